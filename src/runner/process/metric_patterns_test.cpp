// metric_patterns_test.cpp - table tests of metric pattern parsing and line matching.
#include "runner/process/metric_patterns.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace mltf::runner {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

MetricLineMatcher MustParse(const json& spec) {
  auto matcher = MetricLineMatcher::Parse(spec);
  EXPECT_TRUE(matcher) << matcher.error().message;
  return matcher ? std::move(*matcher) : MetricLineMatcher();
}

TEST(MetricPatternsTest, KatibDefaultReadsEveryPair) {
  MetricLineMatcher matcher = MustParse(json::parse(R"js(["default"])js"));
  auto samples = matcher.Match("epoch 1: loss=0.25 accuracy = 9.5e-1 lr=-1E+2", 1000);
  ASSERT_EQ(samples.size(), 3U);
  EXPECT_EQ(samples[0], (MetricSample{"loss", 0.25, 0, 1000}));
  EXPECT_EQ(samples[1], (MetricSample{"accuracy", 0.95, 0, 1000}));
  EXPECT_EQ(samples[2], (MetricSample{"lr", -100, 0, 1000}));
  samples = matcher.Match("loss=0.125", 2000);
  ASSERT_EQ(samples.size(), 1U);
  EXPECT_EQ(samples[0], (MetricSample{"loss", 0.125, 1, 2000}));
}

TEST(MetricPatternsTest, SageMakerStyleTakesFirstGroupOfFirstMatch) {
  MetricLineMatcher matcher = MustParse(json::parse(
      R"js([{"name": "train/loss", "regex": "loss: ([-+0-9.eE]+)"},
          {"name": "acc", "regex": "acc=([^ ]+)"}])js"));
  auto samples = matcher.Match("loss: 1.5 val loss: 2.5 acc=nan", 7);
  ASSERT_EQ(samples.size(), 2U);
  EXPECT_EQ(samples[0], (MetricSample{"train/loss", 1.5, 0, 7}));
  EXPECT_EQ(samples[1].key, "acc");
  EXPECT_TRUE(std::isnan(samples[1].value));
  EXPECT_EQ(matcher.Match("loss: 3", 8).at(0).step, 1);
}

TEST(MetricPatternsTest, KatibCustomPattern) {
  MetricLineMatcher matcher = MustParse(json::parse(R"js(["([a-z_]+):\\s*(\\S+)"])js"));
  auto samples = matcher.Match("val_acc: 0.5 f_one: +0.25 bad: 0.5,", 1);
  ASSERT_EQ(samples.size(), 2U);  // "0.5," is not a number
  EXPECT_EQ(samples[0], (MetricSample{"val_acc", 0.5, 0, 1}));
  EXPECT_EQ(samples[1], (MetricSample{"f_one", 0.25, 0, 1}));
}

TEST(MetricPatternsTest, SkipsValuesThatAreNotFiniteNumbers) {
  MetricLineMatcher matcher = MustParse(json::parse(R"js([{"name": "m", "regex": "m=(\\S*)"}])js"));
  for (const char* line : {"m=inf", "m=-inf", "m=abc", "m=", "m=1.0x", "m=0x10"}) {
    EXPECT_TRUE(matcher.Match(line, 0).empty()) << line;
  }
  EXPECT_EQ(matcher.Match("m=+2", 0).at(0).value, 2.0);
  EXPECT_EQ(matcher.Match("m=2", 0).at(0).step, 1);  // skipped values used no step
}

TEST(MetricPatternsTest, SkipsInvalidMetricNamesFromKatibPatterns) {
  MetricLineMatcher matcher = MustParse(json::parse(R"js(["default"])js"));
  EXPECT_TRUE(matcher.Match("a|b=1", 0).empty());
  EXPECT_EQ(matcher.Match("a-b=1", 0).size(), 1U);
}

TEST(MetricPatternsTest, LongLinesAreNotMatched) {
  MetricLineMatcher matcher = MustParse(json::parse(R"js(["default"])js"));
  std::string line = "loss=1 " + std::string(MetricLineMatcher::kMaxLineLength, ' ');
  EXPECT_TRUE(matcher.Match(line, 0).empty());
  line.resize(MetricLineMatcher::kMaxLineLength);
  EXPECT_EQ(matcher.Match(line, 0).size(), 1U);
}

TEST(MetricPatternsTest, NullAndEmptyListMatchNothing) {
  EXPECT_TRUE(MustParse(json()).empty());
  MetricLineMatcher matcher = MustParse(json::array());
  EXPECT_TRUE(matcher.Match("loss=1", 0).empty());
}

struct BadSpec {
  const char* json_text;
  const char* message;
};

class MetricPatternsBadSpecTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(MetricPatternsBadSpecTest, IsRefusedWithAClearMessage) {
  auto matcher = MetricLineMatcher::Parse(json::parse(GetParam().json_text));
  ASSERT_FALSE(matcher);
  EXPECT_EQ(matcher.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(matcher.error().message, HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Table, MetricPatternsBadSpecTest,
    ::testing::Values(
        BadSpec{R"js("default")js", "must be a list"},
        BadSpec{R"js({"name": "x"})js", "must be a list"},
        BadSpec{R"js([1])js", "metric pattern 0: must be a regex string"},
        BadSpec{R"js(["(unclosed"])js", "'(unclosed' does not compile"},
        BadSpec{R"js(["loss=(\\d+)"])js", "has 1 capture group(s) but needs 2"},
        BadSpec{R"js([{"name": "loss", "regex": "loss"}])js", "has 0 capture group(s) but needs 1"},
        BadSpec{R"js([{"name": "bad!name", "regex": "(x)"}])js", "invalid metric name 'bad!name'"},
        BadSpec{R"js([{"name": "../x", "regex": "(x)"}])js", "invalid metric name"},
        BadSpec{R"js([{"name": "x"}])js", "must both be strings"},
        BadSpec{R"js([{"name": "x", "regex": "(x)", "extra": 1}])js", "unknown field 'extra'"},
        BadSpec{R"js([""])js", "the regex is empty"}));

TEST(MetricPatternsTest, LimitsCountAndLength) {
  json many = json::array();
  for (int idx = 0; idx < 51; ++idx) {
    many.push_back("default");
  }
  auto matcher = MetricLineMatcher::Parse(many);
  ASSERT_FALSE(matcher);
  EXPECT_THAT(matcher.error().message, HasSubstr("at most 50"));
  many.erase(many.begin());
  EXPECT_TRUE(MetricLineMatcher::Parse(many));

  json long_pattern = json::array({"(a)(b)" + std::string(1000, 'c')});
  matcher = MetricLineMatcher::Parse(long_pattern);
  ASSERT_FALSE(matcher);
  EXPECT_THAT(matcher.error().message, HasSubstr("at most 1000"));
}

TEST(MetricPatternsTest, MetricNameRules) {
  EXPECT_TRUE(IsValidMetricName("loss"));
  EXPECT_TRUE(IsValidMetricName("train/loss v2.1-x_y"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName(std::string(251, 'a')));
  EXPECT_TRUE(IsValidMetricName(std::string(250, 'a')));
  for (const char* bad : {"/a", "a/", "a//b", "a/./b", "..", "a/..", "ä", "a:b"}) {
    EXPECT_FALSE(IsValidMetricName(bad)) << bad;
  }
}

}  // namespace
}  // namespace mltf::runner
