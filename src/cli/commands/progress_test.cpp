// progress_test.cpp - progress lines, and what the reporter prints on and off a terminal.
#include "cli/commands/progress.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace mltf::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(FormatProgressLineTest, PercentBytesAndRate) {
  EXPECT_EQ(FormatProgressLine("Uploading", 5000000, 10000000, 2.0),
            "Uploading [############------------]  50%  5.0/10.0 MB  2.5 MB/s");
  EXPECT_EQ(FormatProgressLine("Packing", 0, 10000000, 0.0),
            "Packing [------------------------]   0%  0.0/10.0 MB");
  EXPECT_THAT(FormatProgressLine("x", 0, 0, 1.0), HasSubstr("100%"));
  EXPECT_THAT(FormatProgressLine("x", 20, 10, 1.0), HasSubstr("100%"));
}

TEST(FormatMegabytesTest, OneDecimal) {
  EXPECT_EQ(FormatMegabytes(0), "0.0 MB");
  EXPECT_EQ(FormatMegabytes(12345678), "12.3 MB");
}

TEST(ProgressReporterTest, PlainOutputIsOneSummaryLine) {
  std::ostringstream out;
  ProgressReporter reporter("Uploading", out, /*terminal=*/false);
  reporter.Update(1, 2000000);
  reporter.Update(2000000, 2000000);
  reporter.Finish(2000000);
  const std::string text = out.str();
  EXPECT_THAT(text, StartsWith("Uploading: 2.0 MB in "));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST(ProgressReporterTest, TerminalOutputRedrawsOneLine) {
  std::ostringstream out;
  // An hour between redraws, so "too soon" does not depend on how fast the test runs.
  ProgressReporter reporter("Uploading", out, /*terminal=*/true, std::chrono::hours(1));
  reporter.Update(0, 1000000);
  reporter.Update(1, 1000000);  // Too soon: not drawn.
  reporter.Update(1000000, 1000000);
  reporter.Update(1000000, 1000000);  // No change: not drawn again.
  reporter.Finish(1000000);
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 3);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_THAT(text, HasSubstr("100%"));
}

}  // namespace
}  // namespace mltf::cli
