// json_writer_test.cpp - commas, escaping and MLflow's number encoding.
#include "common/json_writer.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace mltf {
namespace {

TEST(JsonWriter, PlacesCommasAndNests) {
  JsonWriter json;
  json.BeginObject();
  json.Field("a", std::int64_t{1});
  json.Key("list");
  json.BeginArray();
  json.BeginObject();
  json.EndObject();
  json.String("x");
  json.EndArray();
  json.Field("b", true);
  json.EndObject();
  EXPECT_EQ(json.str(), R"({"a":1,"list":[{},"x"],"b":true})");
}

TEST(JsonWriter, EscapesControlCharactersQuotesAndBackslashes) {
  JsonWriter json;
  json.String(std::string("a\"b\\c\n\x01\xC3\xA9", 9));
  EXPECT_EQ(json.str(), "\"a\\\"b\\\\c\\n\\u0001\xC3\xA9\"");
}

TEST(JsonWriter, MetricDoublesFollowMlflow) {
  JsonWriter json;
  json.BeginArray();
  json.MetricDouble(std::numeric_limits<double>::quiet_NaN());
  json.MetricDouble(std::numeric_limits<double>::infinity());
  json.MetricDouble(-std::numeric_limits<double>::infinity());
  json.MetricDouble(0.1);
  json.MetricDouble(3);
  json.MetricDouble(1e16);
  json.EndArray();
  EXPECT_EQ(json.str(),
            R"(["NaN",1.7976931348623157e+308,-1.7976931348623157e+308,0.1,3.0,1e+16])");
}

TEST(JsonWriter, Int64ExtremesAreNumbers) {
  JsonWriter json;
  json.Int(std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(json.str(), "9223372036854775807");
}

}  // namespace
}  // namespace mltf
