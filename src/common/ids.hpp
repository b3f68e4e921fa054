// ids.hpp - identifiers and clocks: run ids, random names, milliseconds since the epoch.
#pragma once

#include <cstdint>
#include <string>

namespace mltf {

/// 32 lowercase hex characters from a CSPRNG-seeded generator (a uuid4 without dashes, as MLflow's
/// run ids). Thread-safe.
std::string NewRunId();

/// `adjective-animal-NNN`, as MLflow names runs created without a name. Thread-safe.
std::string RandomRunName();

/// Wall-clock milliseconds since the Unix epoch.
std::int64_t NowMillis();

}  // namespace mltf
