// server_address.hpp - where the CLI finds the MLTF server and the token it presents.
#pragma once

#include <string>

#include "common/error.hpp"

namespace mltf::client {

/// The base URL of the server, without a trailing slash: `flag_value` (the --server flag) when
/// not empty, else env MLTF_SERVER, else env MLFLOW_TRACKING_URI when it is http(s) (a file:
/// or databricks URI there belongs to MLflow and is skipped), else "http://127.0.0.1:5000".
/// Fails with INVALID_PARAMETER_VALUE, naming the source, when the chosen value is not an
/// http:// or https:// URL with a host.
Result<std::string> ResolveServer(const std::string& flag_value);

/// The bearer token: env MLTF_TOKEN, else env MLFLOW_TRACKING_TOKEN, else empty. Does not fail.
std::string ResolveToken();

/// Checks that `url` is http(s)://host[...] and returns it without trailing slashes and
/// surrounding blanks; `source` names where it came from in the error. Fails with
/// INVALID_PARAMETER_VALUE.
Result<std::string> NormaliseServerUrl(const std::string& url, const std::string& source);

}  // namespace mltf::client
