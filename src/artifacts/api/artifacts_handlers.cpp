// artifacts_handlers.cpp - streamed uploads and downloads, listings and deletes of artifacts.
#include <fmt/format.h>

#include <array>
#include <vector>

#include "artifacts/api/artifacts_routes.hpp"
#include "auth/request_access.hpp"
#include "common/json_writer.hpp"
#include "http/json_endpoint.hpp"

namespace mltf::artifacts::api {
namespace {

using http::Method;
using http::Request;
using http::Response;

constexpr std::string_view kProxyScheme = "mlflow-artifacts:";
constexpr std::size_t kUploadChunk = 1 << 20;

std::string_view BaseName(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string JoinPath(std::string_view base, std::string_view rest) {
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  if (base.empty()) return std::string(rest);
  if (rest.empty()) return std::string(base);
  return fmt::format("{}/{}", base, rest);
}

void WriteFiles(JsonWriter& json, const std::vector<FileInfo>& files, std::size_t strip) {
  if (files.empty()) return;
  json.Key("files");
  json.BeginArray();
  for (const auto& file : files) {
    json.BeginObject();
    json.Field("path", std::string_view(file.path).substr(std::min(strip, file.path.size())));
    json.Field("is_dir", file.is_dir);
    // MLflow's FileInfo.to_proto leaves out a size of 0.
    if (file.file_size && *file.file_size != 0) json.Field("file_size", *file.file_size);
    json.EndObject();
  }
  json.EndArray();
}

Response SendFile(ArtifactRepository& repository, const std::string& path) {
  auto file = repository.OpenForRead(path);
  if (!file) return http::ErrorResponse(file.error());
  Response response;
  response.content_type = std::string(GuessContentType(BaseName(path)));
  response.headers.emplace_back("Content-Disposition",
                                fmt::format("attachment; filename={}", BaseName(path)));
  auto size = static_cast<std::uint64_t>(file->size());
  response.file.emplace(file->Release(), size);
  return response;
}

Response Upload(ArtifactRepository& repository, Request& request) {
  auto writer = repository.OpenForWrite(request.path_suffix);
  if (!writer) return http::ErrorResponse(writer.error());
  std::vector<char> buffer(kUploadChunk);
  while (true) {
    auto read = request.body_reader->Read(buffer);
    if (!read) return http::ErrorResponse(read.error());
    if (*read == 0) break;
    if (auto written = (*writer)->Write(std::span<const char>(buffer.data(), *read)); !written) {
      return http::ErrorResponse(written.error());
    }
  }
  if (auto committed = (*writer)->Commit(); !committed) {
    return http::ErrorResponse(committed.error());
  }
  return Response::Json(http::EmptyJson());
}

}  // namespace

std::string_view GuessContentType(std::string_view file_name) {
  // MLflow's _guess_mime_type: text-like files are text/plain, so browsers never render them.
  static constexpr std::array<std::string_view, 25> kTextExtensions = {
      "txt",  "log",   "err",  "cfg",  "conf", "cnf",     "cf",       "ini", "properties",
      "prop", "hocon", "toml", "yaml", "yml",  "xml",     "json",     "js",  "py",
      "py3",  "csv",   "tsv",  "md",   "rst",  "MLmodel", "mlproject"};
  struct Type {
    std::string_view extension;
    std::string_view content_type;
  };
  static constexpr std::array kTypes = {
      Type{"html", "text/html"},      Type{"htm", "text/html"},
      Type{"png", "image/png"},       Type{"jpg", "image/jpeg"},
      Type{"jpeg", "image/jpeg"},     Type{"gif", "image/gif"},
      Type{"svg", "image/svg+xml"},   Type{"pdf", "application/pdf"},
      Type{"gz", "application/gzip"}, Type{"tar", "application/x-tar"},
      Type{"zip", "application/zip"}, Type{"pkl", "application/octet-stream"},
  };
  std::size_t dot = file_name.rfind('.');
  std::string_view extension =
      dot == std::string_view::npos || dot == 0 ? file_name : file_name.substr(dot + 1);
  for (auto text : kTextExtensions) {
    if (extension == text) return "text/plain";
  }
  for (const auto& type : kTypes) {
    if (extension == type.extension) return type.content_type;
  }
  return "application/octet-stream";
}

Result<ArtifactLocator::Location> ArtifactLocator::Locate(std::string_view artifact_uri) const {
  if (artifact_uri.starts_with(kProxyScheme)) {
    std::string_view rest = artifact_uri.substr(kProxyScheme.size());
    // "mlflow-artifacts:/1/abc/artifacts" and "mlflow-artifacts://host/1/abc/artifacts".
    if (rest.starts_with("//")) {
      std::size_t slash = rest.find('/', 2);
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    }
    while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    return Location{&proxied_, std::string(rest)};
  }
  return Fail(Error::InvalidParameter(fmt::format(
      "The artifact URI {} is not served by this server (only mlflow-artifacts:/ URIs are).",
      artifact_uri)));
}

namespace {

/// May the caller act on a proxied artifact path? See RegisterArtifactRoutes.
Result<void> CheckProxiedPath(auth::AccessPolicy* policy, const Request& request,
                              std::string_view path, auth::Action action) {
  if (policy == nullptr) return {};
  MLTF_ASSIGN_OR_RETURN(caller, auth::CallerOf(request));
  if (caller->admin) return {};
  const std::string_view experiment = path.substr(0, path.find('/'));
  if (experiment.empty() || experiment.find_first_not_of("0123456789") != std::string_view::npos) {
    return Fail(Error{ErrorCode::PERMISSION_DENIED,
                      "Permission denied: only admins may use artifact paths outside an "
                      "experiment's directory"});
  }
  return policy->CheckExperiment(*caller, std::string(experiment), action);
}

}  // namespace

void RegisterArtifactRoutes(http::Router& router, const ArtifactLocator& locator,
                            ArtifactRepository& proxied, tracking::TrackingService& tracking,
                            auth::AccessPolicy* policy) {
  using auth::Action;
  for (std::string_view api : {"/api/2.0", "/ajax-api/2.0"}) {
    std::string prefix = fmt::format("{}/mlflow-artifacts/artifacts/", api);
    router.AddPrefix(
        Method::PUT, prefix,
        [&proxied, policy](Request& request) {
          if (auto allowed = CheckProxiedPath(policy, request, request.path_suffix, Action::UPDATE);
              !allowed) {
            return http::ErrorResponse(allowed.error());
          }
          return Upload(proxied, request);
        },
        http::BodyMode::STREAMED);
    router.AddPrefix(Method::GET, prefix, [&proxied, policy](Request& request) {
      if (auto allowed = CheckProxiedPath(policy, request, request.path_suffix, Action::READ);
          !allowed) {
        return http::ErrorResponse(allowed.error());
      }
      return SendFile(proxied, request.path_suffix);
    });
    router.AddPrefix(Method::DELETE, prefix, [&proxied, policy](Request& request) {
      if (auto allowed = CheckProxiedPath(policy, request, request.path_suffix, Action::DELETE);
          !allowed) {
        return http::ErrorResponse(allowed.error());
      }
      if (auto deleted = proxied.Delete(request.path_suffix); !deleted) {
        return http::ErrorResponse(deleted.error());
      }
      return Response::Json(http::EmptyJson());
    });
    router.Add(Method::GET, fmt::format("{}/mlflow-artifacts/artifacts", api),
               http::JsonEndpoint([&proxied, policy](const http::RequestMessage& message,
                                                     Request& request) -> Result<std::string> {
                 MLTF_ASSIGN_OR_RETURN(path, message.String("path"));
                 MLTF_TRY(CheckProxiedPath(policy, request, path.value_or(""), Action::READ));
                 MLTF_ASSIGN_OR_RETURN(files, proxied.List(path.value_or("")));
                 JsonWriter json;
                 json.BeginObject();
                 if (!files.empty()) {
                   json.Key("files");
                   json.BeginArray();
                   for (const auto& file : files) {
                     json.BeginObject();
                     json.Field("path", BaseName(file.path));
                     json.Field("is_dir", file.is_dir);
                     if (file.file_size && *file.file_size != 0)
                       json.Field("file_size", *file.file_size);
                     json.EndObject();
                   }
                   json.EndArray();
                 }
                 json.EndObject();
                 return json.Take();
               }));
  }

  http::AddApiRoute(
      router, Method::GET, "/mlflow/artifacts/list",
      http::JsonEndpoint([&locator, &tracking, policy](const http::RequestMessage& message,
                                                       Request& request) -> Result<std::string> {
        MLTF_ASSIGN_OR_RETURN(run_id, message.String("run_id"));
        MLTF_ASSIGN_OR_RETURN(run_uuid, message.String("run_uuid"));
        std::string id = run_id && !run_id->empty() ? *run_id : run_uuid.value_or("");
        if (id.empty()) return Fail(http::MissingParameter("run_id"));
        MLTF_TRY(auth::CheckRunAccess(policy, request, id, Action::READ));
        MLTF_ASSIGN_OR_RETURN(path, message.String("path"));
        MLTF_ASSIGN_OR_RETURN(run, tracking.GetRun(id));
        MLTF_ASSIGN_OR_RETURN(location, locator.Locate(run.info.artifact_uri));
        std::string listed = JoinPath(location.path, path.value_or(""));
        MLTF_ASSIGN_OR_RETURN(files, location.repository->List(listed));
        JsonWriter json;
        json.BeginObject();
        json.Field("root_uri", run.info.artifact_uri);
        // Paths relative to the run's artifact root, as MLflow lists them.
        WriteFiles(json, files, location.path.empty() ? 0 : location.path.size() + 1);
        json.EndObject();
        return json.Take();
      }));

  router.Add(Method::GET, "/get-artifact",
             [&locator, &tracking, policy](Request& request) -> Response {
               auto run_id = request.QueryValue("run_id");
               if (!run_id || run_id->empty()) run_id = request.QueryValue("run_uuid");
               auto path = request.QueryValue("path");
               if (!run_id || run_id->empty())
                 return http::ErrorResponse(http::MissingParameter("run_id"));
               if (!path || path->empty())
                 return http::ErrorResponse(http::MissingParameter("path"));
               if (auto allowed =
                       auth::CheckRunAccess(policy, request, std::string(*run_id), Action::READ);
                   !allowed) {
                 return http::ErrorResponse(allowed.error());
               }
               auto run = tracking.GetRun(std::string(*run_id));
               if (!run) return http::ErrorResponse(run.error());
               auto location = locator.Locate(run->info.artifact_uri);
               if (!location) return http::ErrorResponse(location.error());
               return SendFile(*location->repository, JoinPath(location->path, *path));
             });
}

}  // namespace mltf::artifacts::api
