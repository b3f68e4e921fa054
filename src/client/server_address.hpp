// server_address.hpp - where the CLI finds the MLTF server and the credential it presents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "client/stored_login.hpp"
#include "common/error.hpp"

namespace mltf::client {

/// The base URL of the server, without a trailing slash: `flag_value` (the --server flag) when
/// not empty, else env MLTF_SERVER, else env MLFLOW_TRACKING_URI when it is http(s) (a file:
/// or databricks URI there belongs to MLflow and is skipped), else "http://127.0.0.1:5000".
/// Fails with INVALID_PARAMETER_VALUE, naming the source, when the chosen value is not an
/// http:// or https:// URL with a host.
Result<std::string> ResolveServer(const std::string& flag_value);

/// The credential the CLI presents to one server, and where it came from.
struct ResolvedCredential {
  std::string token;   ///< Empty: none (the server may need none).
  std::string source;  ///< "MLTF_TOKEN", "MLFLOW_TRACKING_TOKEN", the credential file, or "".
  std::optional<StoredLogin> login;  ///< The stored entry, as refreshed, when it came from there.
};

/// The credential for `server` (a base URL as ResolveServer returns it): env MLTF_TOKEN, else
/// env MLFLOW_TRACKING_TOKEN, else the login `mltf login` stored for it, refreshed first when
/// its access token expires within 60 s, else none. Fails when the credential file cannot be
/// read or the refresh fails; the message then says to run `mltf login`. Never contains a token.
Result<ResolvedCredential> ResolveCredential(const std::string& server);

/// As above with the credential file `store` and the time `now` (Unix seconds), for tests.
Result<ResolvedCredential> ResolveCredential(const std::string& server, CredentialStore& store,
                                             std::int64_t now);

/// ResolveCredential(server).token: the bearer token of the CLI, empty when there is none.
Result<std::string> ResolveToken(const std::string& server);

/// Checks that `url` is http(s)://host[...] and returns it without trailing slashes and
/// surrounding blanks; `source` names where it came from in the error. Fails with
/// INVALID_PARAMETER_VALUE.
Result<std::string> NormaliseServerUrl(const std::string& url, const std::string& source);

}  // namespace mltf::client
