// mltf_cli.hpp - the entry point of the `mltf` command line.
#pragma once

namespace mltf::cli {

/// Parses the command line and runs a subcommand; returns the process exit code.
int Main(int argc, char** argv);

}  // namespace mltf::cli
