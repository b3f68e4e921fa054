// progress.cpp - progress bars and summary lines for packing and uploading.
#include "cli/commands/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace mltf::cli {
namespace {

constexpr int kBarWidth = 24;

double Seconds(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

}  // namespace

std::string FormatMegabytes(std::uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

std::string FormatProgressLine(std::string_view label, std::uint64_t done, std::uint64_t total,
                               double seconds) {
  const double fraction =
      total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string line = fmt::format("{} [{}{}] {:3}%  {:.1f}/{:.1f} MB", label,
                                 std::string(static_cast<std::size_t>(filled), '#'),
                                 std::string(static_cast<std::size_t>(kBarWidth - filled), '-'),
                                 static_cast<int>(fraction * 100), static_cast<double>(done) / 1e6,
                                 static_cast<double>(total) / 1e6);
  if (seconds > 0) {
    line += fmt::format("  {:.1f} MB/s", static_cast<double>(done) / 1e6 / seconds);
  }
  return line;
}

ProgressReporter::ProgressReporter(std::string label, std::ostream& out, bool terminal,
                                   std::chrono::milliseconds redraw_interval)
    : label_(std::move(label)),
      out_(out),
      redraw_interval_(redraw_interval),
      terminal_(terminal),
      start_(std::chrono::steady_clock::now()) {}

void ProgressReporter::Update(std::uint64_t done, std::uint64_t total) {
  total_ = total;
  if (!terminal_) return;
  const auto now = std::chrono::steady_clock::now();
  // Redraw on change only, at most every redraw_interval_, but always show the last byte.
  if (drawn_ && (done == last_done_ || (done < total && now - last_draw_ < redraw_interval_))) {
    return;
  }
  last_draw_ = now;
  last_done_ = done;
  drawn_ = true;
  // "\r" and clear-to-end-of-line redraw in place.
  out_ << "\r" << FormatProgressLine(label_, done, total, Seconds(now - start_)) << "\x1b[K"
       << std::flush;
}

void ProgressReporter::Finish(std::uint64_t done) {
  const double seconds = Seconds(std::chrono::steady_clock::now() - start_);
  if (terminal_) {
    out_ << "\r" << FormatProgressLine(label_, done, std::max(total_, done), seconds) << "\x1b[K\n"
         << std::flush;
    return;
  }
  out_ << fmt::format("{}: {} in {:.1f} s", label_, FormatMegabytes(done), seconds);
  if (seconds > 0) out_ << fmt::format(" ({:.1f} MB/s)", static_cast<double>(done) / 1e6 / seconds);
  out_ << "\n" << std::flush;
}

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace mltf::cli
