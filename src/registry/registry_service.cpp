// registry_service.cpp - validation, defaults and paging, then one store call per operation.
#include "registry/registry_service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

#include "common/ids.hpp"
#include "tracking/search/page_token.hpp"
#include "tracking/validation.hpp"

namespace mltf::registry {
namespace {

constexpr std::size_t kMaxAliasLength = 255;

Result<void> ValidateModelName(const std::string& name) {
  if (name.empty()) {
    return Fail(Error::InvalidParameter("Registered model name cannot be empty."));
  }
  return {};
}

Result<void> ValidateTags(const std::vector<Tag>& tags) {
  for (const Tag& tag : tags) MLTF_TRY(tracking::ValidateTag(tag));
  return {};
}

Result<std::int64_t> OffsetOf(const std::string& page_token) {
  if (page_token.empty()) return std::int64_t{0};
  return tracking::search::DecodePageToken(page_token);
}

std::optional<std::string> NextToken(bool more, std::int64_t offset, std::int64_t max_results) {
  // Unlike run and experiment searches, MLflow's registry asks for one more row than the page
  // and hands out a token only when that row exists.
  if (!more) return std::nullopt;
  return tracking::search::EncodePageToken(offset + max_results);
}

// --- model version sources (MLflow's _validate_source) ----------------------------------------

int HexValue(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

// Python's urllib.parse.unquote_plus: '+' is a space, %XX a byte; bad escapes stay as written.
std::string UnquotePlus(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t idx = 0; idx < text.size(); ++idx) {
    const char ch = text[idx];
    if (ch == '+') {
      out += ' ';
    } else if (ch == '%' && idx + 2 < text.size() && HexValue(text[idx + 1]) >= 0 &&
               HexValue(text[idx + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[idx + 1]) * 16 + HexValue(text[idx + 2]));
      idx += 2;
    } else {
      out += ch;
    }
  }
  return out;
}

// The parts of a URI as Python's urllib.parse.urlsplit finds them.
struct UriParts {
  std::string scheme;  ///< lower-cased; empty for a plain path
  std::string host;    ///< the authority without user info and port
  std::string path;
};

UriParts SplitUri(std::string_view uri) {
  UriParts parts;
  const std::size_t colon = uri.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(uri.front())) != 0 &&
      std::all_of(uri.begin(), uri.begin() + static_cast<std::ptrdiff_t>(colon), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '+' || ch == '-' ||
               ch == '.';
      })) {
    for (char ch : uri.substr(0, colon)) {
      parts.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    uri.remove_prefix(colon + 1);
  }
  if (uri.starts_with("//")) {
    uri.remove_prefix(2);
    const std::size_t end = uri.find_first_of("/?#");
    std::string_view authority = uri.substr(0, end);
    uri = end == std::string_view::npos ? std::string_view() : uri.substr(end);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
      authority.remove_prefix(at + 1);
    }
    if (auto port = authority.rfind(':'); port != std::string_view::npos) {
      authority = authority.substr(0, port);
    }
    parts.host = authority;
  }
  parts.path = uri.substr(0, uri.find_first_of("?#"));
  return parts;
}

bool IsLocalHost(std::string_view host) {
  return host.empty() || host == "." || host.starts_with("localhost") ||
         host.starts_with("127.0.0.1");
}

Error InvalidSource(const std::string& source, std::string_view why) {
  return Error::InvalidParameter(
      fmt::format("Invalid model version source: '{}'. {}", source, why));
}

// A local path or file URI as an absolute, lexically normal path.
std::filesystem::path LocalPath(std::string_view uri) {
  std::string path(uri);
  if (uri.starts_with("file:")) path = UnquotePlus(SplitUri(uri).path);
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec) absolute = path;
  return absolute.lexically_normal();
}

bool Contains(const std::filesystem::path& directory, const std::filesystem::path& path) {
  auto dir = directory.begin();
  auto item = path.begin();
  for (; dir != directory.end(); ++dir, ++item) {
    if (dir->empty() && std::next(dir) == directory.end()) return true;  // trailing separator
    if (item == path.end() || *dir != *item) return false;
  }
  return true;
}

}  // namespace

Result<std::int64_t> ParseModelVersion(std::string_view version) {
  std::string_view text = version;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return Fail(Error::InvalidParameter(
        fmt::format("Model version must be an integer, got '{}'", version)));
  }
  return number;
}

Result<void> ValidateAliasName(std::string_view alias) {
  if (alias.empty()) {
    return Fail(Error::InvalidParameter("Registered model alias name cannot be empty."));
  }
  const bool word_characters = std::all_of(alias.begin(), alias.end(), [](char ch) {
    // Python's \w is Unicode-aware: every non-ASCII letter passes, so UTF-8 bytes do too.
    const auto byte = static_cast<unsigned char>(ch);
    return std::isalnum(byte) != 0 || ch == '_' || ch == '-' || byte >= 0x80;
  });
  if (!word_characters) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Invalid alias name: '{}'. Names may only contain alphanumerics, underscores (_), and "
        "dashes (-).",
        alias)));
  }
  if (alias.size() > kMaxAliasLength) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Registered model alias name '{}' had length {}, which exceeded length limit of {}",
        alias.substr(0, 250), alias.size(), kMaxAliasLength)));
  }
  std::string lower;
  for (char ch : alias) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "latest") {
    return Fail(Error::InvalidParameter("'latest' alias name (case insensitive) is reserved."));
  }
  if (alias.size() > 1 && (alias.front() == 'v' || alias.front() == 'V') &&
      std::all_of(alias.begin() + 1, alias.end(),
                  [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) != 0; })) {
    return Fail(
        Error::InvalidParameter(fmt::format("Version alias name '{}' is reserved.", alias)));
  }
  return {};
}

Result<RegisteredModel> RegistryService::CreateRegisteredModel(const std::string& name,
                                                               const std::vector<Tag>& tags,
                                                               const std::string& description) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_TRY(ValidateTags(tags));
  return store_.CreateRegisteredModel({name, tags, description, NowMillis()});
}

Result<RegisteredModel> RegistryService::GetRegisteredModel(const std::string& name) {
  MLTF_TRY(ValidateModelName(name));
  return store_.GetRegisteredModel(name);
}

Result<RegisteredModel> RegistryService::RenameRegisteredModel(const std::string& name,
                                                               const std::string& new_name) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_TRY(ValidateModelName(new_name));
  return store_.RenameRegisteredModel(name, new_name, NowMillis());
}

Result<RegisteredModel> RegistryService::UpdateRegisteredModel(const std::string& name,
                                                               const std::string& description) {
  MLTF_TRY(ValidateModelName(name));
  return store_.UpdateRegisteredModel(name, description, NowMillis());
}

Result<void> RegistryService::DeleteRegisteredModel(const std::string& name) {
  MLTF_TRY(ValidateModelName(name));
  return store_.DeleteRegisteredModel(name);
}

Result<RegisteredModelSearchPage> RegistryService::SearchRegisteredModels(
    const RegistrySearchRequest& request) {
  MLTF_TRY(tracking::ValidateMaxResults(request.max_results, kMaxRegisteredModelResults));
  MLTF_ASSIGN_OR_RETURN(offset, OffsetOf(request.page_token));
  MLTF_ASSIGN_OR_RETURN(
      found, store_.SearchRegisteredModels({request.filter, request.order_by, request.max_results,
                                            offset, request.restriction}));
  return RegisteredModelSearchPage{std::move(found.registered_models),
                                   NextToken(found.more, offset, request.max_results)};
}

Result<std::vector<ModelVersion>> RegistryService::GetLatestVersions(
    const std::string& name, const std::vector<std::string>& stages) {
  MLTF_TRY(ValidateModelName(name));
  std::vector<std::string> canonical;
  for (const std::string& stage : stages) {
    auto known = CanonicalStage(stage);
    if (!known) {
      return Fail(Error::InvalidParameter(fmt::format(
          "Invalid Model Version stage: {}. Value must be one of None, Staging, Production, "
          "Archived.",
          stage)));
    }
    canonical.emplace_back(*known);
  }
  return store_.GetLatestVersions(name, canonical);
}

Result<void> RegistryService::SetRegisteredModelTag(const std::string& name, const Tag& tag) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_TRY(tracking::ValidateTag(tag));
  return store_.SetRegisteredModelTag(name, tag);
}

Result<void> RegistryService::DeleteRegisteredModelTag(const std::string& name,
                                                       const std::string& key) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_TRY(tracking::ValidateKey("tag", key));
  return store_.DeleteRegisteredModelTag(name, key);
}

Result<void> RegistryService::ValidateSource(const std::string& source, const std::string& run_id) {
  const UriParts parts = SplitUri(source);
  if (parts.scheme == "file" && !IsLocalHost(parts.host)) {
    return Fail(InvalidSource(source, "A file URI must not name a remote host."));
  }
  if (parts.scheme.empty() || parts.scheme == "file") {
    // A local path is only allowed inside the artifact directory of the version's run.
    if (!run_id.empty() && run_artifact_uri_) {
      MLTF_ASSIGN_OR_RETURN(artifact_uri, run_artifact_uri_(run_id));
      if (Contains(LocalPath(artifact_uri), LocalPath(source))) return {};
    }
    return Fail(InvalidSource(
        source,
        "To use a local path as a model version source, the run_id request parameter has to be "
        "specified and the local path has to be contained within the artifact directory of the "
        "run specified by the run_id."));
  }
  // Any other URI must have an absolute path without relative references, even encoded ones.
  std::string decoded = source;
  for (std::string next = UnquotePlus(decoded); next != decoded; next = UnquotePlus(decoded)) {
    decoded = std::move(next);
  }
  std::string path;
  for (char ch : SplitUri(decoded).path) {
    if (ch != '/' || path.empty() || path.back() != '/') path += ch;
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  bool relative = path.empty() || path.front() != '/' || path.find('\0') != std::string::npos;
  for (std::size_t start = 1; !relative && start <= path.size();) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    const std::string_view segment = std::string_view(path).substr(start, slash - start);
    relative = segment == "." || segment == "..";
    start = slash + 1;
  }
  if (relative) {
    return Fail(InvalidSource(
        source,
        "If supplying a source as an http, https, local file path, ftp, objectstore, or "
        "mlflow-artifacts uri, an absolute path must be provided without relative path "
        "references present. Please provide an absolute path."));
  }
  return {};
}

Result<ModelVersion> RegistryService::CreateModelVersion(const CreateModelVersionRequest& request) {
  MLTF_TRY(ValidateModelName(request.name));
  MLTF_TRY(ValidateTags(request.tags));
  MLTF_TRY(ValidateSource(request.source, request.run_id));
  return store_.CreateModelVersion({request.name, request.source, request.run_id, request.tags,
                                    request.run_link, request.description, NowMillis()});
}

Result<ModelVersion> RegistryService::GetModelVersion(const std::string& name,
                                                      const std::string& version) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_ASSIGN_OR_RETURN(number, ParseModelVersion(version));
  return store_.GetModelVersion(name, number);
}

Result<ModelVersion> RegistryService::UpdateModelVersion(
    const std::string& name, const std::string& version,
    const std::optional<std::string>& description) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_ASSIGN_OR_RETURN(number, ParseModelVersion(version));
  return store_.UpdateModelVersion(name, number, description, NowMillis());
}

Result<ModelVersion> RegistryService::TransitionModelVersionStage(const std::string& name,
                                                                  const std::string& version,
                                                                  const std::string& stage,
                                                                  bool archive_existing_versions) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_ASSIGN_OR_RETURN(number, ParseModelVersion(version));
  auto canonical = CanonicalStage(stage);
  if (!canonical) {
    return Fail(Error::InvalidParameter(
        fmt::format("Invalid Model Version stage: {}. Value must be one of None, Staging, "
                    "Production, Archived.",
                    stage)));
  }
  if (archive_existing_versions && !IsActiveStage(*canonical)) {
    return Fail(Error::InvalidParameter(
        fmt::format("Model version transition cannot archive existing model versions because "
                    "'{}' is not an Active stage. Valid stages are ['Staging', 'Production']",
                    stage)));
  }
  return store_.TransitionModelVersionStage(name, number, *canonical, archive_existing_versions,
                                            NowMillis());
}

Result<void> RegistryService::DeleteModelVersion(const std::string& name,
                                                 const std::string& version) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_ASSIGN_OR_RETURN(number, ParseModelVersion(version));
  return store_.DeleteModelVersion(name, number, NowMillis());
}

Result<ModelVersionSearchPage> RegistryService::SearchModelVersions(
    const RegistrySearchRequest& request) {
  MLTF_TRY(tracking::ValidateMaxResults(request.max_results, kMaxModelVersionResults));
  MLTF_ASSIGN_OR_RETURN(offset, OffsetOf(request.page_token));
  MLTF_ASSIGN_OR_RETURN(
      found, store_.SearchModelVersions({request.filter, request.order_by, request.max_results,
                                         offset, request.restriction}));
  return ModelVersionSearchPage{std::move(found.model_versions),
                                NextToken(found.more, offset, request.max_results)};
}

Result<std::string> RegistryService::GetModelVersionDownloadUri(const std::string& name,
                                                                const std::string& version) {
  MLTF_ASSIGN_OR_RETURN(found, GetModelVersion(name, version));
  return found.source.value_or("");
}

Result<void> RegistryService::SetModelVersionTag(const std::string& name,
                                                 const std::string& version, const Tag& tag) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_ASSIGN_OR_RETURN(number, ParseModelVersion(version));
  MLTF_TRY(tracking::ValidateTag(tag));
  return store_.SetModelVersionTag(name, number, tag);
}

Result<void> RegistryService::DeleteModelVersionTag(const std::string& name,
                                                    const std::string& version,
                                                    const std::string& key) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_ASSIGN_OR_RETURN(number, ParseModelVersion(version));
  MLTF_TRY(tracking::ValidateKey("tag", key));
  return store_.DeleteModelVersionTag(name, number, key);
}

Result<void> RegistryService::SetRegisteredModelAlias(const std::string& name,
                                                      const std::string& alias,
                                                      const std::string& version) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_TRY(ValidateAliasName(alias));
  MLTF_ASSIGN_OR_RETURN(number, ParseModelVersion(version));
  return store_.SetRegisteredModelAlias(name, alias, number);
}

Result<void> RegistryService::DeleteRegisteredModelAlias(const std::string& name,
                                                         const std::string& alias) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_TRY(ValidateAliasName(alias));
  return store_.DeleteRegisteredModelAlias(name, alias);
}

Result<ModelVersion> RegistryService::GetModelVersionByAlias(const std::string& name,
                                                             const std::string& alias) {
  MLTF_TRY(ValidateModelName(name));
  MLTF_TRY(ValidateAliasName(alias));
  return store_.GetModelVersionByAlias(name, alias);
}

}  // namespace mltf::registry
