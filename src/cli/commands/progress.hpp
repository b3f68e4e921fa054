// progress.hpp - progress of packing and uploading a project, on stderr: a live bar on a
// terminal, plain one-line messages otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace mltf::cli {

/// Bytes as MB with one decimal ("12.3 MB"; 1 MB = 10^6 bytes). Does not fail.
std::string FormatMegabytes(std::uint64_t bytes);

/// One progress line: "Uploading [#####-----]  50%  12.3/24.6 MB  4.1 MB/s". The rate is left
/// out before `seconds` is positive; the bar shows 100% when `total` is 0. Does not fail.
std::string FormatProgressLine(std::string_view label, std::uint64_t done, std::uint64_t total,
                               double seconds);

/// Reports the progress of one transfer to `out`. On a terminal it redraws one line (at most
/// ten times a second); otherwise it prints a single summary line when finished. Not
/// thread-safe.
class ProgressReporter {
 public:
  /// `redraw_interval`: the least time between two redraws of the terminal line.
  ProgressReporter(std::string label, std::ostream& out, bool terminal,
                   std::chrono::milliseconds redraw_interval = std::chrono::milliseconds(100));

  /// Records `done` of `total` bytes. Does not fail.
  void Update(std::uint64_t done, std::uint64_t total);
  /// Ends the line (terminal) or prints "<label>: 12.3 MB in 2.0 s (6.1 MB/s)". Does not fail.
  void Finish(std::uint64_t done);

 private:
  std::string label_;
  std::ostream& out_;
  std::chrono::milliseconds redraw_interval_;
  bool terminal_;
  bool drawn_ = false;
  std::uint64_t total_ = 0;
  std::uint64_t last_done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

/// True when stderr is a terminal. Does not fail.
bool StderrIsTerminal();

}  // namespace mltf::cli
