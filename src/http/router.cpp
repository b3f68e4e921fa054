// router.cpp - route registration and lookup.
#include "http/router.hpp"

#include <algorithm>

namespace mltf::http {

void Router::Add(Method method, std::string path, Handler handler, BodyMode body_mode) {
  exact_[std::move(path)].push_back(
      {method, std::move(handler), nullptr, body_mode, Execution::WORKER});
}

void Router::AddAsync(Method method, std::string path, AsyncHandler handler, Execution execution) {
  exact_[std::move(path)].push_back(
      {method, nullptr, std::move(handler), BodyMode::BUFFERED, execution});
}

void Router::AddPrefix(Method method, std::string prefix, Handler handler, BodyMode body_mode) {
  AddPrefixEndpoint(std::move(prefix),
                    {method, std::move(handler), nullptr, body_mode, Execution::WORKER});
}

void Router::AddPrefixAsync(Method method, std::string prefix, AsyncHandler handler,
                            Execution execution) {
  AddPrefixEndpoint(std::move(prefix),
                    {method, nullptr, std::move(handler), BodyMode::BUFFERED, execution});
}

void Router::AddPrefixEndpoint(std::string prefix, Endpoint endpoint) {
  auto same_prefix = [&](const PrefixRoute& route) { return route.prefix == prefix; };
  if (std::none_of(prefixes_.begin(), prefixes_.end(), same_prefix)) {
    prefixes_.push_back({prefix, {}});
    // Longest prefix first, so a more specific route wins.
    std::stable_sort(prefixes_.begin(), prefixes_.end(), [](const auto& lhs, const auto& rhs) {
      return lhs.prefix.size() > rhs.prefix.size();
    });
  }
  std::find_if(prefixes_.begin(), prefixes_.end(), same_prefix)
      ->endpoints.push_back(std::move(endpoint));
}

void Router::AllowAnonymous(std::string path) { anonymous_paths_.insert(std::move(path)); }

Router::Match Router::Find(Method method, std::string_view path) const {
  Match match;
  match.anonymous = anonymous_paths_.contains(path);
  auto pick = [&](const std::vector<Endpoint>& endpoints) {
    match.path_known = true;
    // HEAD is served by the GET handler; the server drops the body.
    Method wanted = method == Method::HEAD ? Method::GET : method;
    for (const auto& endpoint : endpoints) {
      if (endpoint.method == wanted) {
        if (endpoint.async_handler) {
          match.async_handler = &endpoint.async_handler;
        } else {
          match.handler = &endpoint.handler;
        }
        match.body_mode = endpoint.body_mode;
        match.execution = endpoint.execution;
        return true;
      }
    }
    return false;
  };
  if (auto exact = exact_.find(path); exact != exact_.end()) {
    if (pick(exact->second)) return match;
  }
  for (const auto& route : prefixes_) {
    if (path.size() > route.prefix.size() && path.starts_with(route.prefix)) {
      if (pick(route.endpoints)) {
        match.path_suffix = path.substr(route.prefix.size());
        return match;
      }
    }
  }
  return match;
}

}  // namespace mltf::http
