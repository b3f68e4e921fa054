// project_store.cpp - uploaded project archives, stored once under their SHA-256.
#include "gateway/projects/project_store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace mltf::gateway::projects {
namespace {

namespace fs = std::filesystem;

/// A temporary upload file, removed unless kept.
class TemporaryUpload {
 public:
  explicit TemporaryUpload(fs::path path) : path_(std::move(path)) {}
  TemporaryUpload(const TemporaryUpload&) = delete;
  TemporaryUpload& operator=(const TemporaryUpload&) = delete;
  ~TemporaryUpload() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) {
      std::error_code ignored;
      fs::remove(path_, ignored);
    }
  }
  Result<void> Open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      return Fail(
          Error::Internal(fmt::format("cannot create an upload file: {}", std::strerror(errno))));
    }
    return {};
  }
  Result<void> Write(std::string_view data) {
    while (!data.empty()) {
      const ssize_t written = ::write(fd_, data.data(), data.size());
      if (written < 0) {
        if (errno == EINTR) continue;
        return Fail(
            Error::Internal(fmt::format("cannot write an upload: {}", std::strerror(errno))));
      }
      data.remove_prefix(static_cast<std::size_t>(written));
    }
    return {};
  }
  Result<void> Finish() {
    if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
      fd_ = -1;
      return Fail(Error::Internal(fmt::format("cannot store an upload: {}", std::strerror(errno))));
    }
    fd_ = -1;
    return {};
  }
  void Keep() { kept_ = true; }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  int fd_ = -1;
  bool kept_ = false;
};

}  // namespace

Result<std::unique_ptr<ProjectStore>> ProjectStore::Open(fs::path root, ArchiveLimits limits,
                                                         std::uint64_t max_archive_bytes) {
  std::error_code ec;
  fs::create_directories(root / "incoming", ec);
  if (ec) {
    return Fail(Error::Internal(
        fmt::format("cannot create the project store {}: {}", root.string(), ec.message())));
  }
  // Uploads cut short by a crash leave files here; none is ever referenced.
  for (const auto& entry : fs::directory_iterator(root / "incoming", ec)) {
    fs::remove(entry.path(), ec);
  }
  return std::unique_ptr<ProjectStore>(
      new ProjectStore(std::move(root), limits, max_archive_bytes));
}

Result<std::shared_ptr<const StoredProject>> ProjectStore::Put(const ReadChunk& read,
                                                               bool* created) {
  static std::atomic<std::uint64_t> counter{0};
  TemporaryUpload upload(root_ / "incoming" /
                         fmt::format("{}-{}.part", ::getpid(), counter.fetch_add(1)));
  MLTF_TRY(upload.Open());
  Sha256 digest;
  std::uint64_t size = 0;
  std::array<char, 1 << 16> buffer{};
  while (true) {
    MLTF_ASSIGN_OR_RETURN(got, read(buffer));
    if (got == 0) break;
    size += got;
    if (size > max_archive_bytes_) {
      return Fail(Error{ErrorCode::RESOURCE_EXHAUSTED,
                        fmt::format("the project archive is larger than the limit of {} MiB",
                                    max_archive_bytes_ >> 20)});
    }
    const std::string_view chunk(buffer.data(), got);
    digest.Update(chunk);
    MLTF_TRY(upload.Write(chunk));
  }
  if (size == 0) return Fail(Error::InvalidParameter("the project archive is empty"));
  MLTF_TRY(upload.Finish());
  const std::string sha256 = digest.HexDigest();
  const fs::path archive = root_ / (sha256 + ".tar.gz");

  std::error_code ec;
  if (fs::exists(archive, ec)) {
    if (created != nullptr) *created = false;
    return Get(sha256);
  }
  MLTF_ASSIGN_OR_RETURN(project, Load(upload.path(), sha256, size));
  fs::rename(upload.path(), archive, ec);
  if (ec) {
    return Fail(Error::Internal(fmt::format("cannot store the project archive: {}", ec.message())));
  }
  upload.Keep();
  auto stored = std::make_shared<StoredProject>(*project);
  stored->archive = archive;
  std::lock_guard lock(mutex_);
  loaded_[sha256] = stored;
  if (created != nullptr) *created = true;
  return std::shared_ptr<const StoredProject>(stored);
}

Result<std::shared_ptr<const StoredProject>> ProjectStore::Get(const std::string& sha256) {
  if (!IsProjectHash(sha256)) {
    return Fail(Error::InvalidParameter(
        fmt::format("'{}' is not a project hash (64 lowercase hex characters)", sha256)));
  }
  {
    std::lock_guard lock(mutex_);
    if (auto found = loaded_.find(sha256); found != loaded_.end()) return found->second;
  }
  const fs::path archive = root_ / (sha256 + ".tar.gz");
  std::error_code ec;
  const auto size = fs::file_size(archive, ec);
  if (ec) {
    return Fail(Error::ResourceDoesNotExist(fmt::format(
        "No project with sha256 {}: upload the archive first (POST /api/mltf/v1/projects)",
        sha256)));
  }
  MLTF_ASSIGN_OR_RETURN(project, Load(archive, sha256, size));
  std::lock_guard lock(mutex_);
  loaded_.emplace(sha256, project);
  return project;
}

Result<std::shared_ptr<const StoredProject>> ProjectStore::Load(const fs::path& archive,
                                                                const std::string& sha256,
                                                                std::uint64_t size) const {
  MLTF_ASSIGN_OR_RETURN(summary, InspectArchive(archive, limits_));
  MLTF_ASSIGN_OR_RETURN(project, LoadProject(summary));
  auto stored = std::make_shared<StoredProject>();
  stored->sha256 = sha256;
  stored->size_bytes = size;
  stored->archive = archive;
  stored->files = std::set<std::string>(summary.files.begin(), summary.files.end());
  stored->summary = std::move(summary);
  stored->project = std::move(project);
  return std::shared_ptr<const StoredProject>(std::move(stored));
}

nlohmann::json ProjectStore::ToJson(const StoredProject& stored) {
  nlohmann::json entry_points = nlohmann::json::array();
  for (const auto& entry : stored.project.entry_points) {
    nlohmann::json parameters = nlohmann::json::array();
    for (const auto& parameter : entry.parameters) {
      nlohmann::json item = {{"name", parameter.name}, {"type", ParameterTypeName(parameter.type)}};
      if (parameter.default_value) item["default"] = *parameter.default_value;
      parameters.push_back(std::move(item));
    }
    entry_points.push_back(
        {{"name", entry.name}, {"command", entry.command}, {"parameters", parameters}});
  }
  nlohmann::json out = {{"sha256", stored.sha256},
                        {"size_bytes", stored.size_bytes},
                        {"files", stored.summary.files.size()},
                        {"unpacked_bytes", stored.summary.unpacked_bytes},
                        {"environment", EnvironmentKindName(stored.project.environment.kind)},
                        {"entry_points", std::move(entry_points)}};
  if (!stored.project.name.empty()) out["name"] = stored.project.name;
  return out;
}

}  // namespace mltf::gateway::projects
