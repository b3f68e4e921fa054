// task_handlers.cpp - /api/mltf/v1: project uploads, tasks, and task logs.
#include <fmt/format.h>

#include <charconv>

#include "gateway/api/gateway_http.hpp"
#include "gateway/api/gateway_routes.hpp"
#include "gateway/tasks/task_json.hpp"
#include "tracking/search/page_token.hpp"

namespace mltf::gateway::api {
namespace {

using nlohmann::json;

constexpr std::string_view kProjects = "/api/mltf/v1/projects";
constexpr std::string_view kTasks = "/api/mltf/v1/tasks";
constexpr std::int64_t kDefaultMaxResults = 100;
constexpr std::int64_t kMaxResults = 1000;
constexpr std::uint64_t kMaxLogSlice = 16 << 20;
constexpr std::int64_t kMaxWaitMs = 30000;

Result<std::int64_t> IntegerQuery(const http::Request& request, std::string_view name,
                                  std::int64_t fallback, std::int64_t min, std::int64_t max) {
  auto text = request.QueryValue(name);
  if (!text) return fallback;
  std::int64_t value = 0;
  const auto* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) {
    return Fail(Error::InvalidParameter(
        fmt::format("'{}' must be an integer between {} and {}, got '{}'", name, min, max, *text)));
  }
  return value;
}

Result<tasks::TaskQuery> ParseTaskQuery(const http::Request& request) {
  tasks::TaskQuery query;
  for (const auto& [name, value] : request.query) {
    if (name == "state") {
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const auto item = rest.substr(0, comma);
        auto state = tasks::ParseTaskStateName(item);
        if (!state) {
          return Fail(Error::InvalidParameter(fmt::format(
              "unknown task state '{}'; states are SUBMITTED, STAGING, QUEUED, STARTING, "
              "RUNNING, SUCCEEDED, FAILED, CANCELLED",
              item)));
        }
        query.states.push_back(*state);
        rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
      }
    } else if (name == "user") {
      query.user = value;
    } else if (name == "experiment_id") {
      query.experiment_id = value;
    } else if (name != "max_results" && name != "page_token") {
      return Fail(Error::InvalidParameter(fmt::format(
          "unknown parameter '{}'; filters are state, user, experiment_id, max_results and "
          "page_token",
          name)));
    }
  }
  MLTF_ASSIGN_OR_RETURN(max_results,
                        IntegerQuery(request, "max_results", kDefaultMaxResults, 1, kMaxResults));
  query.max_results = max_results;
  if (auto token = request.QueryValue("page_token"); token && !token->empty()) {
    MLTF_ASSIGN_OR_RETURN(offset, tracking::search::DecodePageToken(*token));
    query.offset = offset;
  }
  return query;
}

/// The task id and the action after it: "abc" -> ("abc", ""), "abc/logs" -> ("abc", "logs").
std::pair<std::string, std::string> SplitTaskPath(std::string_view suffix) {
  const auto slash = suffix.find('/');
  if (slash == std::string_view::npos) return {std::string(suffix), ""};
  return {std::string(suffix.substr(0, slash)), std::string(suffix.substr(slash + 1))};
}

http::Response UploadProject(GatewayApi& api, http::Request& request) {
  if (auto allowed = CheckNotTaskToken(CallerOf(api, request)); !allowed) {
    return http::ErrorResponse(allowed.error());
  }
  if (request.body_reader == nullptr) {
    return http::ErrorResponse(Error::InvalidParameter("the project archive is missing"));
  }
  bool created = false;
  auto stored = api.projects.Put(
      [&](std::span<char> buffer) { return request.body_reader->Read(buffer); }, &created);
  if (!stored) return http::ErrorResponse(stored.error());
  return JsonResponse(
      json{{"project", projects::ProjectStore::ToJson(**stored)}, {"created", created}});
}

http::Response GetProject(GatewayApi& api, http::Request& request) {
  auto stored = api.projects.Get(request.path_suffix);
  if (!stored) return http::ErrorResponse(stored.error());
  return JsonResponse(json{{"project", projects::ProjectStore::ToJson(**stored)}});
}

http::Response SubmitTask(GatewayApi& api, http::Request& request) {
  MLTF_ASSIGN_OR_RESPOND(body, ParseJsonBody(request));
  MLTF_ASSIGN_OR_RESPOND(spec, tasks::ParseTaskSpec(body));
  const Identity& caller = CallerOf(api, request);
  if (auto allowed = CheckNotTaskToken(caller); !allowed) {
    return http::ErrorResponse(allowed.error());
  }
  MLTF_ASSIGN_OR_RESPOND(task,
                         api.tasks.Submit(std::move(spec), caller.user, AdmissionOf(api, caller)));
  return JsonResponse(json{{"task", tasks::TaskToJson(task, false)}});
}

http::Response ListTasks(GatewayApi& api, http::Request& request) {
  MLTF_ASSIGN_OR_RESPOND(query, ParseTaskQuery(request));
  // Filtered before the query: a user lists their own tasks, an admin anyone's.
  const Identity& caller = CallerOf(api, request);
  if (auto allowed = CheckNotTaskToken(caller); !allowed) {
    return http::ErrorResponse(allowed.error());
  }
  if (!caller.admin) {
    if (!query.user.empty() && query.user != caller.user) {
      return http::ErrorResponse(
          Error{ErrorCode::PERMISSION_DENIED, "only admins list other users' tasks"});
    }
    query.user = caller.user;
  }
  MLTF_ASSIGN_OR_RESPOND(page, api.tasks.List(query));
  json tasks = json::array();
  for (const auto& task : page.tasks) tasks.push_back(tasks::TaskToJson(task, false));
  json out = {{"tasks", std::move(tasks)}};
  if (page.more) {
    out["next_page_token"] = tracking::search::EncodePageToken(
        query.offset + static_cast<std::int64_t>(page.tasks.size()));
  }
  return JsonResponse(out);
}

/// The task, if the caller may act on it.
Result<tasks::Task> OwnedTask(GatewayApi& api, const http::Request& request,
                              const std::string& task_id, bool with_events) {
  MLTF_ASSIGN_OR_RETURN(task, api.tasks.Get(task_id, with_events));
  MLTF_TRY(CheckOwner(api, request, task));
  return task;
}

http::Response TaskGet(GatewayApi& api, http::Request& request) {
  auto [task_id, action] = SplitTaskPath(request.path_suffix);
  if (!action.empty()) return NotFound(request);
  MLTF_ASSIGN_OR_RESPOND(task, OwnedTask(api, request, task_id, true));
  return JsonResponse(json{{"task", tasks::TaskToJson(task, true)}});
}

http::Response TaskPost(GatewayApi& api, http::Request& request) {
  auto [task_id, action] = SplitTaskPath(request.path_suffix);
  if (action == "cancel") {
    MLTF_ASSIGN_OR_RESPOND(task, OwnedTask(api, request, task_id, false));
    MLTF_ASSIGN_OR_RESPOND(
        cancelled, api.tasks.Cancel(task.task_id,
                                    fmt::format("cancelled by {}", CallerOf(api, request).user)));
    return JsonResponse(json{{"task", tasks::TaskToJson(cancelled, false)}});
  }
  if (action == "reproduce") {
    MLTF_ASSIGN_OR_RESPOND(task, OwnedTask(api, request, task_id, false));
    MLTF_ASSIGN_OR_RESPOND(again, api.tasks.Reproduce(task.task_id, CallerOf(api, request).user,
                                                      AdmissionOf(api, CallerOf(api, request))));
    return JsonResponse(json{{"task", tasks::TaskToJson(again, false)}});
  }
  return NotFound(request);
}

void TaskLogs(GatewayApi& api, http::Request& request, http::Reply reply) {
  try {
    auto [task_id, action] = SplitTaskPath(request.path_suffix);
    if (action != "logs") {
      reply(NotFound(request));
      return;
    }
    auto task = OwnedTask(api, request, task_id, false);
    if (!task) {
      reply(http::ErrorResponse(task.error()));
      return;
    }
    auto offset = IntegerQuery(request, "offset", 0, 0, INT64_MAX);
    auto max_bytes = IntegerQuery(request, "max_bytes", 1 << 20, 1, kMaxLogSlice);
    auto wait_ms = IntegerQuery(request, "wait_ms", 0, 0, kMaxWaitMs);
    for (const auto* checked : {&offset, &max_bytes, &wait_ms}) {
      if (!*checked) {
        reply(http::ErrorResponse(checked->error()));
        return;
      }
    }
    auto& service = api.tasks;
    LogRequest log{.path = service.LogPath(task->task_id),
                   .offset = static_cast<std::uint64_t>(*offset),
                   .max_bytes = static_cast<std::uint64_t>(*max_bytes),
                   .wait = std::chrono::milliseconds(*wait_ms),
                   .finished = [&service, id = task->task_id] { return !service.IsLive(id); },
                   .state =
                       [&service, id = task->task_id] {
                         auto current = service.Get(id, false);
                         return current
                                    ? std::string(tasks::TaskStateNameText(current->state.state))
                                    : std::string("UNKNOWN");
                       }};
    api.logs.Serve(std::move(log), std::move(reply));
  } catch (const std::exception& error) {
    reply(http::ErrorResponse(Error::Internal(error.what())));
  }
}

}  // namespace

void RegisterTaskRoutes(http::Router& router, GatewayApi& api) {
  router.Add(
      http::Method::POST, std::string(kProjects),
      [&api](http::Request& request) {
        return Guarded([&] { return UploadProject(api, request); });
      },
      http::BodyMode::STREAMED);
  router.AddPrefix(http::Method::GET, std::string(kProjects) + "/", [&api](http::Request& request) {
    return Guarded([&] { return GetProject(api, request); });
  });
  router.Add(http::Method::POST, std::string(kTasks), [&api](http::Request& request) {
    return Guarded([&] { return SubmitTask(api, request); });
  });
  router.Add(http::Method::GET, std::string(kTasks), [&api](http::Request& request) {
    return Guarded([&] { return ListTasks(api, request); });
  });
  const std::string task_prefix = std::string(kTasks) + "/";
  router.AddPrefix(http::Method::POST, task_prefix, [&api](http::Request& request) {
    return Guarded([&] { return TaskPost(api, request); });
  });
  // GET .../{id} and GET .../{id}/logs share the prefix; logs may wait, so the route is
  // asynchronous and a plain GET answers at once.
  router.AddPrefixAsync(http::Method::GET, task_prefix,
                        [&api](http::Request& request, http::Reply reply) {
                          if (request.path_suffix.find('/') == std::string::npos) {
                            reply(Guarded([&] { return TaskGet(api, request); }));
                            return;
                          }
                          TaskLogs(api, request, std::move(reply));
                        });
}

}  // namespace mltf::gateway::api
