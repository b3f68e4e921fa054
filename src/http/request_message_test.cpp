// request_message_test.cpp - proto3-JSON typing rules for request fields.
#include "http/request_message.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace mltf::http {
namespace {

TEST(RequestMessage, ReadsTypedJsonFields) {
  auto message = RequestMessage::FromJson(
      R"({"name":"x","step":"12","timestamp":1795443944682,"value":"NaN","flag":true,)"
      R"("ids":["1","2"],"tags":[{"key":"k","value":"v"}],"nothing":null})");
  ASSERT_TRUE(message) << message.error().message;
  EXPECT_EQ(*message->String("name").value(), "x");
  EXPECT_EQ(*message->Int64("step").value(), 12);
  EXPECT_EQ(*message->Int64("timestamp").value(), 1795443944682);
  EXPECT_TRUE(std::isnan(*message->Double("value").value()));
  EXPECT_TRUE(*message->Bool("flag").value());
  EXPECT_EQ(message->StringList("ids").value(), (std::vector<std::string>{"1", "2"}));
  auto tags = message->KeyValues("tags").value();
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].key, "k");
  EXPECT_FALSE(message->String("nothing").value().has_value());
  EXPECT_FALSE(message->Has("nothing"));
  EXPECT_FALSE(message->String("absent").value().has_value());
}

TEST(RequestMessage, RejectsWrongTypes) {
  auto message = RequestMessage::FromJson(R"({"name":5,"step":"x","value":"abc","ids":"1"})");
  ASSERT_TRUE(message);
  EXPECT_EQ(message->String("name").error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_FALSE(message->Int64("step"));
  EXPECT_FALSE(message->Double("value"));
  EXPECT_FALSE(message->StringList("ids"));
}

TEST(RequestMessage, RequiredStringTreatsEmptyAsMissing) {
  auto message = RequestMessage::FromJson(R"({"name":""})");
  ASSERT_TRUE(message);
  auto name = message->RequiredString("name");
  ASSERT_FALSE(name);
  EXPECT_NE(name.error().message.find("Missing value for required parameter 'name'"),
            std::string::npos);
}

TEST(RequestMessage, MalformedJsonIsInvalidParameter) {
  for (std::string_view body : {"{", "[1,2]", "\"x\"", "{\"a\":}", "nul"}) {
    auto message = RequestMessage::FromJson(body);
    ASSERT_FALSE(message) << body;
    EXPECT_EQ(message.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  }
}

TEST(RequestMessage, EmptyBodyIsEmptyMessage) {
  auto message = RequestMessage::FromJson("  ");
  ASSERT_TRUE(message);
  EXPECT_FALSE(message->Has("name"));
}

TEST(RequestMessage, QueryFieldsAreTypedToo) {
  QueryParams query{{"run_id", "r"},
                    {"max_results", "25000"},
                    {"order_by[]", "a"},
                    {"order_by", "b"},
                    {"bad", "x"}};
  auto message = RequestMessage::FromQuery(query);
  EXPECT_EQ(*message.String("run_id").value(), "r");
  EXPECT_EQ(*message.Int64("max_results").value(), 25000);
  EXPECT_EQ(message.StringList("order_by").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(message.Int64("bad"));
}

}  // namespace
}  // namespace mltf::http
