// oidc_provider.cpp - discovery and key sets of an OpenID provider (see the header).
#include "auth/oidc_provider.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "client/http_client.hpp"

namespace mltf::auth {
namespace {

constexpr std::chrono::seconds kFetchTimeout{10};

Result<std::string> StringMember(const nlohmann::json& document, const char* name, bool required) {
  const auto member = document.find(name);
  if (member == document.end() || member->is_null()) {
    if (!required) return std::string();
    return Fail(Error::InvalidParameter(
        fmt::format("the provider's discovery document has no '{}'", name)));
  }
  if (!member->is_string()) {
    return Fail(Error::InvalidParameter(
        fmt::format("the provider's discovery document has a non-string '{}'", name)));
  }
  return member->get<std::string>();
}

}  // namespace

Result<std::string> FetchWithCurl(const std::string& url) {
  client::HttpClient http(url);
  http.SetTimeout(kFetchTimeout);
  http.SetPeerName("the OpenID provider");
  auto response = http.Get("");
  if (!response) {
    return Fail(
        Error::Unavailable(fmt::format("cannot fetch {}: {}", url, response.error().message)));
  }
  if (response->status != 200) {
    return Fail(Error::Unavailable(fmt::format("cannot fetch {}: HTTP {}", url, response->status)));
  }
  return std::move(response->body);
}

Result<ProviderMetadata> DiscoverProvider(const std::string& issuer, const UrlFetcher& fetch) {
  std::string base = issuer;
  while (!base.empty() && base.back() == '/') base.pop_back();
  MLTF_ASSIGN_OR_RETURN(text, fetch(base + "/.well-known/openid-configuration"));
  const auto document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return Fail(Error::InvalidParameter(
        fmt::format("the discovery document of {} is not a JSON object", issuer)));
  }
  ProviderMetadata metadata;
  MLTF_ASSIGN_OR_RETURN(document_issuer, StringMember(document, "issuer", true));
  if (document_issuer != issuer) {
    return Fail(Error::InvalidParameter(fmt::format(
        "the discovery document of {} names another issuer, {}", issuer, document_issuer)));
  }
  metadata.issuer = std::move(document_issuer);
  MLTF_ASSIGN_OR_RETURN(jwks_uri, StringMember(document, "jwks_uri", true));
  metadata.jwks_uri = std::move(jwks_uri);
  MLTF_ASSIGN_OR_RETURN(token_endpoint, StringMember(document, "token_endpoint", true));
  metadata.token_endpoint = std::move(token_endpoint);
  MLTF_ASSIGN_OR_RETURN(device, StringMember(document, "device_authorization_endpoint", false));
  metadata.device_authorization_endpoint = std::move(device);
  MLTF_ASSIGN_OR_RETURN(authorization, StringMember(document, "authorization_endpoint", false));
  metadata.authorization_endpoint = std::move(authorization);
  MLTF_ASSIGN_OR_RETURN(revocation, StringMember(document, "revocation_endpoint", false));
  metadata.revocation_endpoint = std::move(revocation);
  return metadata;
}

ProviderKeys::ProviderKeys(std::string jwks_uri, UrlFetcher fetch, ProviderKeysOptions options,
                           Clock clock)
    : jwks_uri_(std::move(jwks_uri)),
      fetch_(std::move(fetch)),
      options_(options),
      clock_(std::move(clock)),
      fetcher_([this] { FetchLoop(); }) {}

ProviderKeys::~ProviderKeys() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  fetch_wanted_.notify_all();
  fetcher_.join();
}

Result<VerifiedToken> ProviderKeys::Verify(std::string_view token, const JwtPolicy& policy,
                                           std::int64_t now_seconds) {
  MLTF_ASSIGN_OR_RETURN(keys, KeysFor(JwtKeyId(token)));
  return VerifyJwt(token, *keys, policy, now_seconds);
}

Result<void> ProviderKeys::Prefetch() {
  std::unique_lock lock(mutex_);
  const std::uint64_t fetch = RequestFetchLocked();
  WaitForFetchLocked(lock, fetch);
  if (fetches_ended_ < fetch) {
    return Fail(Error::Unavailable(fmt::format("no answer from {} yet", jwks_uri_)));
  }
  if (last_fetch_error_) {
    // Not an attempt that holds the next one back: the first token tries again at once.
    attempted_ = false;
    return Fail(*last_fetch_error_);
  }
  return {};
}

bool ProviderKeys::FetchPossibleLocked(std::chrono::steady_clock::time_point now) const {
  return fetching_ || fetch_requested_ || !attempted_ ||
         now - last_attempt_ >= options_.min_refresh_interval;
}

std::uint64_t ProviderKeys::RequestFetchLocked() {
  // A fetch under way serves this request too: one fetch at a time, whoever asks.
  if (!fetching_ && !fetch_requested_) {
    fetch_requested_ = true;
    fetch_wanted_.notify_one();
  }
  return fetches_ended_ + 1;
}

void ProviderKeys::WaitForFetchLocked(std::unique_lock<std::mutex>& lock, std::uint64_t fetch) {
  fetch_ended_.wait_for(lock, options_.wait_for_keys,
                        [&] { return fetches_ended_ >= fetch || stopping_; });
}

Result<std::shared_ptr<const Jwks>> ProviderKeys::KeysFor(
    const std::optional<std::string>& wanted_kid) {
  std::unique_lock lock(mutex_);
  const auto now = clock_();
  const bool kid_missing = keys_ != nullptr && wanted_kid && keys_->Find(*wanted_kid) == nullptr;
  if ((keys_ == nullptr || kid_missing) && FetchPossibleLocked(now)) {
    WaitForFetchLocked(lock, RequestFetchLocked());
  } else if (keys_ != nullptr && now - fetched_at_ >= options_.max_age &&
             FetchPossibleLocked(now)) {
    // Old, not wrong: verify with them while new ones are fetched.
    RequestFetchLocked();
  }
  if (keys_ == nullptr) {
    return Fail(Error::Unavailable(fmt::format("no signing keys from {} yet", jwks_uri_)));
  }
  return keys_;
}

void ProviderKeys::FetchLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    fetch_wanted_.wait(lock, [this] { return fetch_requested_ || stopping_; });
    if (stopping_) return;
    fetch_requested_ = false;
    fetching_ = true;
    attempted_ = true;
    last_attempt_ = clock_();
    const auto started = last_attempt_;
    lock.unlock();
    // Outside the lock: verifications with known keys go on meanwhile.
    Result<Jwks> fetched = [this]() -> Result<Jwks> {
      MLTF_ASSIGN_OR_RETURN(text, fetch_(jwks_uri_));
      return Jwks::Parse(text);
    }();
    lock.lock();
    if (fetched) {
      keys_ = std::make_shared<const Jwks>(std::move(*fetched));
      fetched_at_ = started;
      last_fetch_error_.reset();
    } else {
      last_fetch_error_ = fetched.error();
      if (keys_ != nullptr) {
        // The provider is away: the keys we have still verify what they verified.
        spdlog::warn("auth: keeping the provider's old keys: {}", fetched.error().message);
      }
    }
    fetching_ = false;
    ++fetches_ended_;
    fetch_ended_.notify_all();
  }
}

}  // namespace mltf::auth
