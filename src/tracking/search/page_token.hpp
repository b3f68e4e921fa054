// page_token.hpp - MLflow's search page tokens: base64 of the JSON `{"offset": N}`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mltf::tracking::search {

/// The token for the page that starts at `offset` (> 0), byte for byte what MLflow 2.9.2 makes:
/// EncodePageToken(2) == "eyJvZmZzZXQiOiAyfQ==". Does not fail.
std::string EncodePageToken(std::int64_t offset);

/// The offset a token stands for; an empty token means the first page (0). Strict: standard
/// base64 with padding, then a JSON object whose "offset" is an integer >= 1 (MLflow also
/// rejects 0). Fails with INVALID_PARAMETER_VALUE "Invalid page token, ..." otherwise.
Result<std::int64_t> DecodePageToken(std::string_view token);

}  // namespace mltf::tracking::search
