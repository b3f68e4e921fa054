// job_handlers.cpp - the existing MLTF client's API (`POST /api/job`, `GET /api/jobs`, ...),
// mapped onto tasks, with its field names and statuses, and without its defects: ownership is
// checked, cancelled and timed-out jobs have a status, bad JSON is a 400, logs never block.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "gateway/api/gateway_http.hpp"
#include "gateway/tasks/task_json.hpp"
#include "http/multipart.hpp"
#include "version.hpp"

namespace mltf::gateway::api {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxTextField = 1 << 20;
constexpr std::int64_t kMaxListed = 1000;

/// The client's status words are MLflow run statuses.
std::string_view JobStatus(tasks::TaskStateName state) {
  switch (state) {
    case tasks::TaskStateName::SUBMITTED:
    case tasks::TaskStateName::STAGING:
    case tasks::TaskStateName::QUEUED:
      return "SCHEDULED";
    case tasks::TaskStateName::STARTING:
    case tasks::TaskStateName::RUNNING:
      return "RUNNING";
    case tasks::TaskStateName::SUCCEEDED:
      return "FINISHED";
    case tasks::TaskStateName::FAILED:
      return "FAILED";
    case tasks::TaskStateName::CANCELLED:
      return "KILLED";
  }
  return "FAILED";
}

/// The client shows `{"error": ...}` bodies; it expects 404 for an unknown job.
http::Response JobError(const Error& error) {
  const int status =
      error.code == ErrorCode::RESOURCE_DOES_NOT_EXIST ? 404 : http::HttpStatusFor(error.code);
  return JsonResponse(json{{"error", error.message}, {"error_code", ErrorCodeName(error.code)}},
                      status);
}

http::Response UnknownJob(const std::string& id) {
  return JsonResponse(json{{"error", fmt::format("Run with ID '{}' not found.", id)}}, 404);
}

/// A task the caller may act on (its own, or any for an admin): else 403, or the client's 404
/// for an unknown id.
Result<tasks::Task> CallersTask(GatewayApi& api, const http::Request& request,
                                const std::string& id) {
  auto task = api.tasks.Get(id, false);
  if (!task) return Fail(task.error());
  if (auto owner = CheckOwner(api, request, *task); !owner) return Fail(owner.error());
  return task;
}

/// A JSON object sent as a form field; empty means none.
Result<json> JsonField(const std::string& text, std::string_view name) {
  if (text.empty() || text == "null") return json::object();
  auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Fail(Error::InvalidParameter(fmt::format("'{}' must be a JSON object", name)));
  }
  return parsed;
}

http::Response SubmitJob(GatewayApi& api, http::Request& request) {
  if (request.body_reader == nullptr) {
    return JobError(Error::InvalidParameter("the job upload is missing"));
  }
  auto boundary = http::MultipartBoundary(request.Header("content-type"));
  if (!boundary) return JobError(boundary.error());
  http::MultipartReader form(*request.body_reader, *boundary);
  std::map<std::string, std::string> fields;
  std::optional<std::string> project;
  while (true) {
    auto part = form.NextPart();
    if (!part) return JobError(part.error());
    if (!*part) break;
    if ((*part)->name == "tarball") {
      auto stored =
          api.projects.Put([&form](std::span<char> buffer) { return form.Read(buffer); }, nullptr);
      if (!stored) return JobError(stored.error());
      project = (*stored)->sha256;
      continue;
    }
    auto text = form.ReadText(kMaxTextField);
    if (!text) return JobError(text.error());
    fields[(*part)->name] = std::move(*text);
  }
  if (!project) return JobError(Error::InvalidParameter("the form has no 'tarball' file"));

  json spec = {{"project", *project}};
  if (auto entry = fields["entry_point"]; !entry.empty()) spec["entry_point"] = entry;
  auto params = JsonField(fields["params"], "params");
  if (!params) return JobError(params.error());
  spec["parameters"] = std::move(*params);
  auto backend_config = JsonField(fields["backend_config"], "backend_config");
  if (!backend_config) return JobError(backend_config.error());
  // MLflow's own keys (ENV_MANAGER, ...) are dropped by the resource parser; its env manager
  // choice is honoured when given.
  if (auto manager = backend_config->find("ENV_MANAGER");
      manager != backend_config->end() && manager->is_string()) {
    spec["env_manager"] = *manager;
  }
  spec["resources"] = std::move(*backend_config);
  if (auto run_id = fields["run_id"]; !run_id.empty()) spec["run_id"] = run_id;
  if (auto experiment = fields["experiment_id"]; !experiment.empty() && experiment != "None") {
    spec["experiment_id"] = experiment;
  }
  auto parsed = tasks::ParseTaskSpec(spec);
  if (!parsed) return JobError(parsed.error());
  const Identity& caller = CallerOf(api, request);
  if (auto allowed = CheckNotTaskToken(caller); !allowed) return JobError(allowed.error());
  auto task = api.tasks.Submit(std::move(*parsed), caller.user, AdmissionOf(api, caller));
  if (!task) return JobError(task.error());
  return JsonResponse(json{{"gateway_id", task->task_id}});
}

http::Response ListJobs(GatewayApi& api, http::Request& request) {
  const Identity& caller = CallerOf(api, request);
  if (auto allowed = CheckNotTaskToken(caller); !allowed) return JobError(allowed.error());
  auto page = api.tasks.List({.user = caller.user, .max_results = kMaxListed});
  if (!page) return JobError(page.error());
  json jobs = json::array();
  for (const auto& task : page->tasks) {
    jobs.push_back({{"gateway_id", task.task_id},
                    {"run_id", task.run_id},
                    {"creation_time", task.state.submitted_at / 1000},
                    {"status", JobStatus(task.state.state)}});
  }
  return JsonResponse(jobs);
}

bool IsTrue(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "true" || lower == "1" || lower == "yes";
}

http::Response ShowJob(GatewayApi& api, http::Request& request) {
  const std::string id = request.path_suffix;
  auto task = CallersTask(api, request, id);
  if (!task) {
    return task.error().code == ErrorCode::RESOURCE_DOES_NOT_EXIST ? UnknownJob(id)
                                                                   : JobError(task.error());
  }
  const tasks::TaskState& state = task->state;
  json out = {{"status", JobStatus(state.state)},
              {"state", tasks::TaskStateNameText(state.state)},
              {"run_id", task->run_id}};
  if (const tasks::Attempt* attempt = state.current(); attempt && !attempt->executor_id.empty()) {
    out["pid"] = attempt->executor_id;
  }
  if (state.state == tasks::TaskStateName::FAILED ||
      state.state == tasks::TaskStateName::CANCELLED) {
    out["failure_reason"] = state.reason;
  }
  if (auto show = request.QueryValue("show_logs"); show && IsTrue(*show)) {
    // What the log holds now (its last 4 MiB): unlike the old gateway, this never waits for
    // the job to end.
    constexpr std::streamoff kMaxLogs = 4 << 20;
    std::ifstream in(api.tasks.LogPath(id), std::ios::binary | std::ios::ate);
    std::string logs;
    if (in) {
      const std::streamoff size = in.tellg();
      const std::streamoff start = std::max<std::streamoff>(0, size - kMaxLogs);
      in.seekg(start);
      logs.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (start > 0) logs.insert(0, "[...]\n");
    }
    out["logs"] = std::move(logs);
  }
  return JsonResponse(out);
}

http::Response DeleteJob(GatewayApi& api, http::Request& request) {
  const std::string id = request.path_suffix;
  auto task = CallersTask(api, request, id);
  if (!task) {
    return task.error().code == ErrorCode::RESOURCE_DOES_NOT_EXIST ? UnknownJob(id)
                                                                   : JobError(task.error());
  }
  if (!tasks::IsTerminal(task->state.state)) {
    auto cancelled =
        api.tasks.Cancel(id, fmt::format("cancelled by {}", CallerOf(api, request).user));
    // A task that ended meanwhile is as good as cancelled for this client.
    if (!cancelled && cancelled.error().code != ErrorCode::RESOURCE_CONFLICT) {
      return JobError(cancelled.error());
    }
  }
  // The old gateway answered with the job's id under "run_id"; the client prints it.
  return JsonResponse(json{{"message", "Job deleted successfully"}, {"run_id", id}});
}

}  // namespace

void RegisterJobRoutes(http::Router& router, GatewayApi& api) {
  router.Add(
      http::Method::POST, "/api/job",
      [&api](http::Request& request) { return Guarded([&] { return SubmitJob(api, request); }); },
      http::BodyMode::STREAMED);
  router.Add(http::Method::GET, "/api/jobs", [&api](http::Request& request) {
    return Guarded([&] { return ListJobs(api, request); });
  });
  router.AddPrefix(http::Method::GET, "/api/jobs/", [&api](http::Request& request) {
    return Guarded([&] { return ShowJob(api, request); });
  });
  router.AddPrefix(http::Method::DELETE, "/api/jobs/", [&api](http::Request& request) {
    return Guarded([&] { return DeleteJob(api, request); });
  });
  router.Add(http::Method::GET, "/healthz", [&api](http::Request&) {
    return JsonResponse(json{{"status", "ok"},
                             {"version", std::string(kVersion)},
                             {"executor_status", json::parse(api.executor_status_json)}});
  });
}

}  // namespace mltf::gateway::api
