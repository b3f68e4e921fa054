// stored_login_test.cpp - the credential file: where it lives, its modes whatever the umask,
// entries per server, refusals that never quote the content, and changes under the lock.
#include "client/stored_login.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "client/test_environment.hpp"

namespace mltf::client {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kServerA = "https://a.example:5000";
constexpr const char* kServerB = "http://127.0.0.1:5001";

mode_t ModeOf(const fs::path& path) {
  struct stat info {};
  EXPECT_EQ(stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

StoredLogin OidcLogin(const std::string& user) {
  StoredLogin login;
  login.kind = "oidc";
  login.issuer = "https://idp.example";
  login.client_id = "mltf-cli";
  login.token_url = "https://idp.example/token";
  login.revocation_url = "https://idp.example/revoke";
  login.access_token = "access-secret-" + user;
  login.access_expires_at = 1700000000;
  login.refresh_token = "refresh-secret-" + user;
  login.user = user;
  return login;
}

class StoredLoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    environment_.Set("XDG_CONFIG_HOME", (dir_ / "config").string());
    file_ = dir_ / "config" / "mltf" / "credentials.json";
  }

  CredentialStore Store() {
    return CredentialStore(file_,
                           [this](std::string_view message) { warnings_.emplace_back(message); });
  }

  testing::ScopedEnvironment environment_;
  testing::TemporaryDirectory temporary_{"mltf-stored-login-test-"};
  const fs::path& dir_ = temporary_.path();
  fs::path file_;
  std::vector<std::string> warnings_;
};

TEST_F(StoredLoginTest, PathFollowsXdgConfigHomeElseHome) {
  EXPECT_EQ(*DefaultCredentialsPath(), file_);
  environment_.Set("HOME", (dir_ / "home").string());
  environment_.Set("XDG_CONFIG_HOME", "relative/config");  // Invalid by XDG's rule: ignored.
  EXPECT_EQ(*DefaultCredentialsPath(), dir_ / "home" / ".config" / "mltf" / "credentials.json");
  environment_.Clear("XDG_CONFIG_HOME");
  EXPECT_EQ(*DefaultCredentialsPath(), dir_ / "home" / ".config" / "mltf" / "credentials.json");
}

TEST_F(StoredLoginTest, NoFileMeansNoLogin) {
  auto store = Store();
  auto loaded = store.Load(kServerA);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_FALSE(*loaded);
  auto removed = store.Remove(kServerA);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_FALSE(*removed);
}

TEST_F(StoredLoginTest, DirectoryIs0700AndFile0600WhateverTheUmask) {
  const mode_t old_umask = umask(0);
  auto store = Store();
  auto saved = store.Save(kServerA, OidcLogin("alice"));
  umask(old_umask);
  ASSERT_TRUE(saved) << saved.error().message;
  EXPECT_EQ(ModeOf(file_.parent_path()), 0700U);
  EXPECT_EQ(ModeOf(file_.parent_path().parent_path()), 0700U);  // Created parents too.
  EXPECT_EQ(ModeOf(file_), 0600U);
  EXPECT_EQ(ModeOf(fs::path(file_.string() + ".lock")), 0600U);
  // Nothing but the file and its lock: the temporary file was renamed over it.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(file_.parent_path())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("credentials.json", "credentials.json.lock"));
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(StoredLoginTest, EntriesAreKeptPerServer) {
  auto store = Store();
  ASSERT_TRUE(store.Save(kServerA, OidcLogin("alice")));
  StoredLogin api_token;
  api_token.kind = "token";
  api_token.access_token = "mltf_api_token_secret";
  api_token.user = "bob";
  ASSERT_TRUE(store.Save(kServerB, api_token));

  EXPECT_EQ(**store.Load(kServerA), OidcLogin("alice"));
  EXPECT_EQ(**store.Load(kServerB), api_token);
  EXPECT_FALSE(*store.Load("https://other.example"));

  // A second store on the same file (another process) sees both.
  CredentialStore other(file_);
  EXPECT_EQ((**other.Load(kServerB)).user, "bob");
}

TEST_F(StoredLoginTest, RemoveDropsOneServerOnly) {
  auto store = Store();
  ASSERT_TRUE(store.Save(kServerA, OidcLogin("alice")));
  ASSERT_TRUE(store.Save(kServerB, OidcLogin("bob")));
  auto removed = store.Remove(kServerA);
  ASSERT_TRUE(removed) << removed.error().message;
  ASSERT_TRUE(*removed);
  EXPECT_EQ((*removed)->refresh_token, "refresh-secret-alice");
  EXPECT_FALSE(*store.Load(kServerA));
  EXPECT_EQ((**store.Load(kServerB)).user, "bob");
  EXPECT_EQ(ModeOf(file_), 0600U);
}

TEST_F(StoredLoginTest, AFileOthersCanReadIsTightenedWithAWarning) {
  auto store = Store();
  ASSERT_TRUE(store.Save(kServerA, OidcLogin("alice")));
  ASSERT_EQ(chmod(file_.c_str(), 0644), 0);
  ASSERT_EQ(chmod(file_.parent_path().c_str(), 0755), 0);
  auto loaded = store.Load(kServerA);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(ModeOf(file_), 0600U);
  ASSERT_EQ(warnings_.size(), 1U);
  EXPECT_THAT(warnings_[0], HasSubstr("could be read by other users"));
  EXPECT_THAT(warnings_[0], HasSubstr("mltf login"));
  // The next change tightens the directory as well.
  ASSERT_TRUE(store.Save(kServerB, OidcLogin("bob")));
  EXPECT_EQ(ModeOf(file_.parent_path()), 0700U);
  for (const auto& warning : warnings_) EXPECT_THAT(warning, Not(HasSubstr("secret")));
}

TEST_F(StoredLoginTest, AFileThatIsNotOursIsRefusedWithoutQuotingIt) {
  fs::create_directories(file_.parent_path());
  std::ofstream(file_) << R"({"servers": {"x": {"access_token": "leaky-secret-token")";
  auto loaded = Store().Load(kServerA);
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, HasSubstr(file_.string()));
  EXPECT_THAT(loaded.error().message, HasSubstr("mltf login"));
  EXPECT_THAT(loaded.error().message, Not(HasSubstr("leaky-secret-token")));

  std::ofstream(file_) << R"({"version": 99, "servers": {}})";
  auto newer = Store().Load(kServerA);
  ASSERT_FALSE(newer);
  EXPECT_THAT(newer.error().message, HasSubstr("newer mltf"));
}

TEST_F(StoredLoginTest, ASymbolicLinkIsRefused) {
  fs::create_directories(file_.parent_path());
  std::ofstream(dir_ / "elsewhere.json") << R"({"version": 1, "servers": {}})";
  fs::create_symlink(dir_ / "elsewhere.json", file_);
  auto loaded = Store().Load(kServerA);
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, HasSubstr("symbolic link"));
}

TEST_F(StoredLoginTest, UpdateReadsTheFileAfterTakingTheLock) {
  auto store = Store();
  ASSERT_TRUE(store.Save(kServerA, OidcLogin("alice")));
  auto stale = **store.Load(kServerA);
  // Another process rotates the refresh token meanwhile.
  CredentialStore other(file_);
  auto rotated = stale;
  rotated.refresh_token = "refresh-secret-rotated";
  ASSERT_TRUE(other.Save(kServerA, rotated));

  std::string seen;
  auto updated = store.Update(
      kServerA,
      [&seen](const std::optional<StoredLogin>& current) -> Result<std::optional<StoredLogin>> {
        seen = current->refresh_token;
        return current;
      });
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(seen, "refresh-secret-rotated");
}

TEST_F(StoredLoginTest, AFailedUpdateLeavesTheFileAsItWas) {
  auto store = Store();
  ASSERT_TRUE(store.Save(kServerA, OidcLogin("alice")));
  auto failed = store.Update(
      kServerA, [](const std::optional<StoredLogin>&) -> Result<std::optional<StoredLogin>> {
        return Fail(Error::InvalidState("refresh refused"));
      });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "refresh refused");
  EXPECT_EQ(**store.Load(kServerA), OidcLogin("alice"));
}

TEST_F(StoredLoginTest, ConcurrentUpdatesAreSerialised) {
  // Separate open() calls take separate flocks, so threads stand in for processes here.
  ASSERT_TRUE(Store().Save(kServerA, OidcLogin("alice")));
  constexpr std::int64_t kWriters = 4;
  constexpr std::int64_t kIncrements = 25;
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (std::int64_t writer = 0; writer < kWriters; ++writer) {
    writers.emplace_back([this] {
      CredentialStore store(file_);
      for (std::int64_t step = 0; step < kIncrements; ++step) {
        auto updated = store.Update(
            kServerA,
            [](const std::optional<StoredLogin>& current) -> Result<std::optional<StoredLogin>> {
              auto next = *current;
              ++next.access_expires_at;
              return next;
            });
        EXPECT_TRUE(updated);
      }
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ((**Store().Load(kServerA)).access_expires_at,
            OidcLogin("alice").access_expires_at + kWriters * kIncrements);
}

}  // namespace
}  // namespace mltf::client
