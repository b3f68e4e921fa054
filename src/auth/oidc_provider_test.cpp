// oidc_provider_test.cpp - discovery and key rotation against a scripted provider (a real HTTP
// server on 127.0.0.1 serving canned documents), with a clock the test moves.
#include "auth/oidc_provider.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "auth/test_keys.hpp"
#include "client/test_server.hpp"

namespace mltf::auth {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1'800'000'000;

/// Counts the fetches of one path in the scripted server's log.
int FetchesOf(const client::testing::TestServer& server, const std::string& path) {
  int count = 0;
  for (const auto& request : server.Requests()) {
    if (request["path"] == path) ++count;
  }
  return count;
}

/// A fetcher that serves `document` for the discovery URL of `issuer` only.
UrlFetcher Serving(const std::string& issuer, const json& document) {
  return [issuer, document](const std::string& url) -> Result<std::string> {
    EXPECT_EQ(url, issuer + "/.well-known/openid-configuration");
    return document.dump();
  };
}

TEST(DiscoverProviderTest, ReadsTheEndpointsOfItsOwnIssuerOnly) {
  const std::string issuer = "https://sso.example.org/realms/ml";
  const json document = {{"issuer", issuer},
                         {"jwks_uri", issuer + "/certs"},
                         {"token_endpoint", issuer + "/token"},
                         {"device_authorization_endpoint", issuer + "/device"},
                         {"revocation_endpoint", issuer + "/revoke"}};
  auto metadata = DiscoverProvider(issuer + "/", Serving(issuer, document));
  ASSERT_FALSE(metadata) << "the issuer asked for must match exactly, slash included";
  metadata = DiscoverProvider(issuer, Serving(issuer, document));
  ASSERT_TRUE(metadata) << metadata.error().message;
  EXPECT_EQ(metadata->jwks_uri, issuer + "/certs");
  EXPECT_EQ(metadata->token_endpoint, issuer + "/token");
  EXPECT_EQ(metadata->device_authorization_endpoint, issuer + "/device");
  EXPECT_EQ(metadata->revocation_endpoint, issuer + "/revoke");
  EXPECT_TRUE(metadata->authorization_endpoint.empty());

  json other = document;
  other["issuer"] = "https://evil.example.org";
  auto refused = DiscoverProvider(issuer, Serving(issuer, other));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("names another issuer"), std::string::npos);

  for (const char* missing : {"issuer", "jwks_uri", "token_endpoint"}) {
    json incomplete = document;
    incomplete.erase(missing);
    auto result = DiscoverProvider(issuer, Serving(issuer, incomplete));
    ASSERT_FALSE(result) << missing;
    EXPECT_NE(result.error().message.find(missing), std::string::npos);
  }
  EXPECT_FALSE(DiscoverProvider(issuer, [](const std::string&) -> Result<std::string> {
    return std::string("<html>not json</html>");
  }));
}

TEST(DiscoverProviderTest, AnUnreachableProviderIsUnavailable) {
  auto metadata = DiscoverProvider(
      "http://127.0.0.1:" + std::to_string(client::testing::UnusedPort()), FetchWithCurl);
  ASSERT_FALSE(metadata);
  EXPECT_EQ(metadata.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
}

class ProviderKeysTest : public ::testing::Test {
 protected:
  EvpPkeyPtr old_key_ = testing::GenerateEcKey("P-256");
  EvpPkeyPtr new_key_ = testing::GenerateEcKey("P-256");
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};

  json KeySet(std::initializer_list<std::pair<evp_pkey_st*, const char*>> keys) {
    json document = {{"keys", json::array()}};
    for (const auto& [key, kid] : keys) document["keys"].push_back(testing::PublicJwk(key, kid));
    return document;
  }
  std::string Token(evp_pkey_st* key, const char* kid, const std::string& issuer) {
    return testing::SignToken(
        {{"alg", "ES256"}, {"kid", kid}},
        {{"iss", issuer}, {"aud", "mltf"}, {"sub", "alice"}, {"exp", kNow + 600}}, key);
  }
  static JwtPolicy Policy(const std::string& issuer) {
    JwtPolicy policy;
    policy.issuer = issuer;
    policy.audience = "mltf";
    return policy;
  }
};

TEST_F(ProviderKeysTest, FetchesOnFirstUseAndAgainWhenTheProviderRotated) {
  client::testing::TestServer server(
      json{{"GET /jwks",
            json::array(
                {json{{"status", 200}, {"body", KeySet({{old_key_.get(), "2025"}})}},
                 json{{"status", 200},
                      {"body", KeySet({{old_key_.get(), "2025"}, {new_key_.get(), "2026"}})}}})}});
  const std::string issuer = server.url();
  ProviderKeysOptions options;
  options.min_refresh_interval = 30s;
  ProviderKeys keys(server.url() + "/jwks", FetchWithCurl, options, [this] { return now_; });

  auto first = keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->user, "alice");
  EXPECT_TRUE(keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow));
  EXPECT_EQ(FetchesOf(server, "/jwks"), 1) << "known keys are not fetched again";

  // A new kid within the refresh interval: no fetch, refused.
  auto too_soon = keys.Verify(Token(new_key_.get(), "2026", issuer), Policy(issuer), kNow);
  ASSERT_FALSE(too_soon);
  EXPECT_EQ(FetchesOf(server, "/jwks"), 1);

  // Later, the same token makes the keys be fetched again, and the rotated key verifies it.
  now_ += 31s;
  auto rotated = keys.Verify(Token(new_key_.get(), "2026", issuer), Policy(issuer), kNow);
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_EQ(FetchesOf(server, "/jwks"), 2);

  // Forged kids cannot make the server hammer the provider.
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(keys.Verify(Token(new_key_.get(), "forged", issuer), Policy(issuer), kNow));
  }
  EXPECT_EQ(FetchesOf(server, "/jwks"), 2);
}

TEST_F(ProviderKeysTest, OldKeysAreRefetchedAndKeptWhileTheProviderIsDown) {
  client::testing::TestServer server(
      json{{"GET /jwks",
            json::array({json{{"status", 200}, {"body", KeySet({{old_key_.get(), "2025"}})}},
                         json{{"status", 503}, {"body", "down"}}})}});
  const std::string issuer = server.url();
  ProviderKeysOptions options;
  options.max_age = 1h;
  ProviderKeys keys(server.url() + "/jwks", FetchWithCurl, options, [this] { return now_; });
  ASSERT_TRUE(keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow));
  now_ += 2h;  // stale: fetched again in the background, which fails; the old keys verify
  auto kept = keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow);
  ASSERT_TRUE(kept) << kept.error().message;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (FetchesOf(server, "/jwks") < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(FetchesOf(server, "/jwks"), 2);
  EXPECT_TRUE(keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow));
}

/// A provider whose key set the test changes, and whose answers it can hold back.
class HeldFetcher {
 public:
  explicit HeldFetcher(std::string document) : document_(std::move(document)) {}
  UrlFetcher Fetcher() {
    return [this](const std::string&) -> Result<std::string> {
      std::unique_lock lock(mutex_);
      ++started_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return !held_; });
      return document_;
    };
  }
  void Hold() {
    Set([this] { held_ = true; });
  }
  void Release(std::string document) {
    Set([&] {
      document_ = std::move(document);
      held_ = false;
    });
  }
  void WaitForFetch(int count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return started_ >= count; });
  }

 private:
  void Set(const std::function<void()>& change) {
    std::lock_guard lock(mutex_);
    change();
    changed_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string document_;
  bool held_ = false;
  int started_ = 0;
};

TEST_F(ProviderKeysTest, NoVerificationWithAKnownKeyWaitsForAFetch) {
  const std::string issuer = "https://idp.example.org";
  HeldFetcher provider(KeySet({{old_key_.get(), "2025"}}).dump());
  ProviderKeysOptions options;
  options.max_age = 1h;
  options.min_refresh_interval = 30s;
  ProviderKeys keys("https://idp.example.org/jwks", provider.Fetcher(), options,
                    [this] { return now_; });
  ASSERT_TRUE(keys.Prefetch());

  // Old keys: verified with at once, while their fetch is held at the provider.
  provider.Hold();
  now_ += 2h;
  EXPECT_TRUE(keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow));
  provider.WaitForFetch(2);
  EXPECT_TRUE(keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow));

  // A rotated kid waits for that fetch, and only it: the known kid still verifies meanwhile.
  std::thread rotated([&] {
    auto verified = keys.Verify(Token(new_key_.get(), "2026", issuer), Policy(issuer), kNow);
    EXPECT_TRUE(verified) << verified.error().message;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow));
  provider.Release(KeySet({{old_key_.get(), "2025"}, {new_key_.get(), "2026"}}).dump());
  rotated.join();
}

TEST_F(ProviderKeysTest, AVerificationWaitsForNewKeysOnlyAsLongAsAllowed) {
  const std::string issuer = "https://idp.example.org";
  HeldFetcher provider(KeySet({{old_key_.get(), "2025"}}).dump());
  ProviderKeysOptions options;
  options.wait_for_keys = 100ms;
  ProviderKeys keys("https://idp.example.org/jwks", provider.Fetcher(), options,
                    [this] { return now_; });
  ASSERT_TRUE(keys.Prefetch());
  provider.Hold();
  now_ += 31s;
  // Returns although the fetch is held until after it (waiting longer would hang the test).
  auto refused = keys.Verify(Token(new_key_.get(), "2026", issuer), Policy(issuer), kNow);
  EXPECT_FALSE(refused) << "the rotated key has not arrived";
  provider.Release(KeySet({{old_key_.get(), "2025"}, {new_key_.get(), "2026"}}).dump());
}

TEST_F(ProviderKeysTest, NoKeysEverIsUnavailableNotAVerdictOnTheToken) {
  ProviderKeys keys("http://127.0.0.1:" + std::to_string(client::testing::UnusedPort()) + "/jwks",
                    FetchWithCurl, {}, [this] { return now_; });
  auto result = keys.Verify(Token(old_key_.get(), "2025", "x"), Policy("x"), kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
}

TEST_F(ProviderKeysTest, PrefetchedKeysServeTheFirstTokenAndAFailedPrefetchHoldsNothingBack) {
  client::testing::TestServer server(
      json{{"GET /jwks",
            json::array({json{{"status", 503}, {"body", "starting"}},
                         json{{"status", 200}, {"body", KeySet({{old_key_.get(), "2025"}})}}})}});
  const std::string issuer = server.url();
  ProviderKeysOptions options;
  options.min_refresh_interval = 30s;
  ProviderKeys keys(server.url() + "/jwks", FetchWithCurl, options, [this] { return now_; });
  ASSERT_FALSE(keys.Prefetch()) << "the provider answered 503";
  // Within the refresh interval, yet the first token fetches: a failed start-up fetch is not
  // an attempt that holds the next one back.
  auto first = keys.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(FetchesOf(server, "/jwks"), 2);

  ProviderKeys ready(server.url() + "/jwks", FetchWithCurl, options, [this] { return now_; });
  ASSERT_TRUE(ready.Prefetch());
  EXPECT_EQ(FetchesOf(server, "/jwks"), 3);
  EXPECT_TRUE(ready.Verify(Token(old_key_.get(), "2025", issuer), Policy(issuer), kNow));
  EXPECT_EQ(FetchesOf(server, "/jwks"), 3) << "the first token used the prefetched keys";
}

TEST(JwtKeyIdTest, ReadsTheHeadersKidWithoutTrustingIt) {
  EvpPkeyPtr key = testing::GenerateEcKey("P-256");
  EXPECT_EQ(
      JwtKeyId(testing::SignToken({{"alg", "ES256"}, {"kid", "k1"}}, {{"sub", "a"}}, key.get())),
      "k1");
  EXPECT_FALSE(JwtKeyId(testing::SignToken({{"alg", "ES256"}}, {{"sub", "a"}}, key.get())));
  EXPECT_FALSE(JwtKeyId("not a token"));
  EXPECT_FALSE(JwtKeyId(""));
}

}  // namespace
}  // namespace mltf::auth
