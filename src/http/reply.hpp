// reply.hpp - how a handler answers later: a one-shot, move-only handle on the connection.
#pragma once

#include <memory>

#include "http/response.hpp"

namespace mltf::http {

/// Answers one request, exactly once, from any thread: the server then writes the response on
/// the connection's I/O thread and goes on reading the next request there. A Reply dropped
/// without being called answers 500, so a lost reply never leaves a client waiting. Move-only;
/// not thread-safe itself (one owner at a time), but the owner may be any thread.
class Reply {
 public:
  /// Where the response goes; the server's connection implements it.
  class Target {
   public:
    /// Takes the response of the request in flight. Called once per request, from any thread.
    /// Does not throw.
    virtual void Send(Response response) noexcept = 0;

   protected:
    ~Target() = default;
  };

  Reply() = default;
  explicit Reply(std::shared_ptr<Target> target) : target_(std::move(target)) {}
  Reply(Reply&& other) noexcept = default;
  /// Answers this reply's request with 500 first if it was still pending.
  Reply& operator=(Reply&& other) noexcept;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  ~Reply();

  /// Sends `response`. Only the first call on a pending reply sends; later calls are ignored (a
  /// programmer error). Does not throw.
  void operator()(Response response) noexcept;

  /// True until the reply has been sent (or moved from).
  [[nodiscard]] bool pending() const { return target_ != nullptr; }

 private:
  void AnswerLost() noexcept;

  std::shared_ptr<Target> target_;
};

}  // namespace mltf::http
