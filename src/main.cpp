// main.cpp - the `mltf` binary: every subcommand lives in cli/.
#include "cli/mltf_cli.hpp"

int main(int argc, char** argv) { return mltf::cli::Main(argc, argv); }
