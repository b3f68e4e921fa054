// admin_commands_test.cpp - `mltf admin` in process: lifetimes, and users and tokens written to
// a real database the way the server then reads them.
#include "cli/admin_commands.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "auth/api_token_service.hpp"
#include "auth/identity_store.hpp"
#include "cli/server_command.hpp"

namespace mltf::cli {
namespace {

TEST(ParseLifetime, AcceptsUnitsAndNeverAndRefusesTheRest) {
  EXPECT_EQ(ParseLifetime("90d")->milliseconds, 90LL * 86'400'000);
  EXPECT_EQ(ParseLifetime("12h")->milliseconds, 12LL * 3'600'000);
  EXPECT_EQ(ParseLifetime("30m")->milliseconds, 30LL * 60'000);
  EXPECT_EQ(ParseLifetime("3600s")->milliseconds, 3'600'000);
  ASSERT_TRUE(ParseLifetime("never").has_value());
  EXPECT_FALSE(ParseLifetime("never")->milliseconds.has_value());
  for (const char* bad : {"", "d", "0d", "-1d", "1w", "1.5h", "h1", "99999999d", "90 d"}) {
    EXPECT_FALSE(ParseLifetime(bad).has_value()) << bad;
  }
}

class AdminCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ =
        std::filesystem::temp_directory_path() / ("mltf-admin-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(data_dir_);
  }
  void TearDown() override { std::filesystem::remove_all(data_dir_); }

  /// Runs `mltf admin ARGS --data-dir D`; returns the exit code and what went to stdout.
  std::pair<int, std::string> Admin(std::vector<std::string> args) {
    args.insert(args.begin(), {"mltf", "admin"});
    args.insert(args.end(), {"--data-dir", data_dir_.string()});
    CLI::App app;
    AdminCommandState state;
    AddAdminCommands(app, state);
    std::vector<const char*> argv;
    argv.reserve(args.size());
    for (const auto& arg : args) argv.push_back(arg.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    ::testing::internal::CaptureStdout();
    const int code = RunAdminCommands(state).value_or(-1);
    return {code, ::testing::internal::GetCapturedStdout()};
  }

  std::filesystem::path data_dir_;
};

TEST_F(AdminCommandsTest, AUserAndTheirTokenWorkAsTheServerReadsThem) {
  EXPECT_EQ(Admin({"user", "add", "alice", "--group", "cms", "--group", "atlas"}).first, 0);
  EXPECT_EQ(Admin({"user", "add", "alice"}).first, 1);  // already there
  auto [code, token] = Admin({"token", "create", "--user", "alice", "--expires", "1h"});
  ASSERT_EQ(code, 0);
  while (!token.empty() && token.back() == '\n') token.pop_back();
  EXPECT_TRUE(token.starts_with("mltf_")) << token;
  EXPECT_EQ(Admin({"token", "create", "--user", "nobody"}).first, 1);
  EXPECT_EQ(Admin({"token", "create", "--user", "alice", "--expires", "soon"}).first, 2);
  auto [listed, listing] = Admin({"token", "list", "--user", "alice"});
  EXPECT_EQ(listed, 0);
  EXPECT_NE(listing.find("valid"), std::string::npos) << listing;
  EXPECT_EQ(listing.find(token.substr(22)), std::string::npos) << "no secret in a listing";

  config::ServerConfig config;
  config.data_dir = data_dir_.string();
  config.backend_store_uri = (data_dir_ / "mltf.db").string();
  {
    auto database = OpenDatabase(config);
    ASSERT_TRUE(database.has_value());
    auth::IdentityStore store(**database);
    auth::ApiTokenService tokens(store);
    auto identity = tokens.Verify(token);
    ASSERT_TRUE(identity.has_value()) << identity.error().message;
    EXPECT_EQ((*identity)->user, "alice");
    EXPECT_EQ((*identity)->groups, (std::vector<std::string>{"atlas", "cms"}));
    (*database)->Close();
  }
  const std::string token_id = token.substr(5, 16);
  EXPECT_EQ(Admin({"token", "revoke", token_id}).first, 0);
  EXPECT_EQ(Admin({"token", "revoke", "0000000000000000"}).first, 1);
  auto after = Admin({"token", "list", "--user", "alice"});
  EXPECT_NE(after.second.find("revoked"), std::string::npos) << after.second;
}

}  // namespace
}  // namespace mltf::cli
