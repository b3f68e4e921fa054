// server.cpp - HTTP/1.1 over Boost.Beast.
//
// Protocol of one connection (a Session):
//   1. On the connection's I/O thread (each thread runs its own io_context, and a connection
//      stays on one for its life): read the header, bounded by max_header_bytes.
//   2. Route it. A buffered route's body is read on the I/O thread too, bounded by max_body_bytes;
//      a streamed route (artifact upload) reads its body on the worker, in pieces.
//   3. Run the handler: on the I/O thread itself when its route says it never blocks (it parses,
//      validates and queues work, e.g. a store write), on a worker thread otherwise. The handler
//      answers through a Reply, at once or later from any thread (the store's writer thread).
//   4. The reply posts the response to the I/O thread, which writes it asynchronously (header and
//      body in one gathered write; a file body goes out with sendfile(2) on a worker) and reads
//      the next request (keep-alive) or closes. An inline handler whose work is queued thus
//      costs no hand-off to a worker and none back.
// Shutdown: stop accepting, close idle connections, let busy ones finish their request and
// close, then stop the I/O threads and join the workers. A grace timer bounds the wait.
#include "http/server.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/sendfile.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <csignal>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

namespace mltf::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Method ToMethod(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get:
      return Method::GET;
    case bhttp::verb::head:
      return Method::HEAD;
    case bhttp::verb::post:
      return Method::POST;
    case bhttp::verb::put:
      return Method::PUT;
    case bhttp::verb::patch:
      return Method::PATCH;
    case bhttp::verb::delete_:
      return Method::DELETE;
    case bhttp::verb::options:
      return Method::OPTIONS;
    default:
      return Method::OTHER;
  }
}

std::string_view ToStd(beast::string_view text) { return {text.data(), text.size()}; }

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router& router)
      : options_(std::move(options)),
        router_(router),
        contexts_(MakeContexts(options_.io_threads)),
        acceptor_(*contexts_.front()),
        signals_(*contexts_.front(), SIGINT, SIGTERM),
        grace_timer_(*contexts_.front()),
        workers_(static_cast<std::size_t>(options_.worker_threads)) {}

  Result<void> Listen();
  void Run();
  void Stop();
  [[nodiscard]] std::uint16_t port() const { return bound_port_; }

  class Session;
  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  net::thread_pool& workers() { return workers_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void Register(const std::shared_ptr<Session>& session);
  void Unregister(Session* session);

 private:
  using ContextGuard = net::executor_work_guard<net::io_context::executor_type>;

  /// One io_context per I/O thread, each run by its thread alone: a connection lives on one of
  /// them for its whole life, so its handlers never need a strand, and no I/O thread has to
  /// wake another to hand work over (Asio's scheduler does that when threads share a context).
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(int count);
  /// Runs `context` until it is out of work or stopped; what a handler throws is logged and
  /// the loop goes on (nothing escapes a thread).
  static void RunContext(net::io_context& context);
  void Accept();
  void BeginShutdown();
  /// Stops the I/O threads' work once every connection has closed, or at `deadline`.
  void AwaitSessions(std::chrono::steady_clock::time_point deadline);

  ServerOptions options_;
  const Router& router_;
  // Declared before the contexts: destroying a context destroys the handlers that still hold
  // sessions, and a session unregisters itself when destroyed.
  std::mutex sessions_mutex_;
  std::unordered_set<Session*> sessions_;  // guarded by sessions_mutex_
  std::vector<std::weak_ptr<Session>> session_refs_;
  // The first context also holds the acceptor, the signals and the grace timer.
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::vector<ContextGuard> idle_guards_;  // keep contexts without connections running
  std::size_t next_context_ = 0;           // round-robin over contexts_, in the accept handler
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer grace_timer_;
  net::thread_pool workers_;
  std::uint16_t bound_port_ = 0;
  std::atomic<bool> stopping_{false};
};

/// One client connection. Exactly one request is in flight at a time, so the state below is
/// touched by one thread at a time: its I/O thread while reading and writing, the thread that
/// runs the handler while handling (the I/O thread itself for inline handlers, a worker
/// otherwise), and the thread that sends the reply until it posts the write back to the I/O
/// thread.
class Server::Impl::Session final : public std::enable_shared_from_this<Session>,
                                    public Reply::Target {
 public:
  Session(tcp::socket socket, Impl& server) : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_.Unregister(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() {
    beast::error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
    auto endpoint = stream_.socket().remote_endpoint(ignored);
    remote_ = ignored ? std::string("-") : endpoint.address().to_string();
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  /// Called on the I/O thread at shutdown: an idle connection is closed now, a busy one after its
  /// response.
  void CloseIfIdle() {
    if (idle_) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.socket().close(ignored);
    }
  }

  auto executor() { return stream_.get_executor(); }

  /// Takes the response of the request in flight (any thread) and writes it on the I/O thread.
  void Send(Response response) noexcept override {
    response_ = std::move(response);
    Guarded("post response", [&] {
      net::post(stream_.get_executor(), [self = shared_from_this()] {
        Guarded("write response", [&] { self->WriteResponse(); });
      });
    });
  }

 private:
  class StreamedBody;

  /// Runs `step`, logging what it throws: nothing escapes into an I/O or worker thread. A
  /// session whose step threw is dropped with the handler that held it, closing its socket.
  template <typename Step>
  static void Guarded(std::string_view what, Step&& step) noexcept {
    try {
      step();
    } catch (const std::exception& error) {
      spdlog::error("http: {} failed error={}", what, error.what());
    } catch (...) {
      spdlog::error("http: {} failed with a non-standard exception", what);
    }
  }

  void ReadHeader() {
    if (server_.stopping()) return Close();
    idle_ = true;
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<std::uint32_t>(server_.options().max_header_bytes));
    // The body limit depends on the route (streamed uploads have none): checked after routing.
    // Not boost::none: Boost 1.74's parser compares the length with the optional, and any
    // length is greater than an empty one.
    header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(server_.options().idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *header_parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               Guarded("read header", [&] { self->OnHeader(ec); });
                             });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    started_ = std::chrono::steady_clock::now();
    if (ec) {
      if (ec == bhttp::error::header_limit) {
        return Reject(Error{ErrorCode::BAD_REQUEST, "Request header fields too large."}, 431);
      }
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
          ec == beast::error::timeout || ec == net::error::operation_aborted ||
          ec == net::error::connection_reset || ec == net::error::bad_descriptor) {
        return Close();
      }
      return Reject(Error{ErrorCode::BAD_REQUEST, "Malformed HTTP request: " + ec.message()}, 400);
    }
    stream_.expires_never();
    const auto& header = header_parser_->get();
    request_.method = ToMethod(header.method());
    request_.target.assign(ToStd(header.target()));
    request_.remote_address = remote_;
    std::string_view target = request_.target;
    std::size_t question = target.find('?');
    auto path = DecodePath(target.substr(0, question));
    if (!path) return Reject(Error{ErrorCode::BAD_REQUEST, "Malformed request path."}, 400);
    request_.path = std::move(*path);
    if (question != std::string_view::npos) {
      request_.query = ParseQueryString(target.substr(question + 1));
    }
    for (const auto& field : header) {
      request_.headers.emplace_back(Lowercase(ToStd(field.name_string())),
                                    std::string(ToStd(field.value())));
    }
    keep_alive_ = header.keep_alive();

    auto match = server_.router().Find(request_.method, request_.path);
    if (!match.found()) {
      if (match.path_known) {
        return Reject(
            Error{ErrorCode::BAD_REQUEST, fmt::format("Method {} is not allowed for {}",
                                                      MethodName(request_.method), request_.path)},
            405);
      }
      return Reject(
          Error{ErrorCode::ENDPOINT_NOT_FOUND,
                fmt::format("No endpoint {} {}", MethodName(request_.method), request_.path)},
          404);
    }
    if (const auto* authenticator = server_.options().authenticator;
        authenticator != nullptr && !match.anonymous) {
      auto caller = authenticator->Authenticate(request_);
      if (!caller) return RejectUnauthenticated(*authenticator, caller.error());
      request_.caller = std::move(*caller);
    }
    handler_ = match.handler;
    async_handler_ = match.async_handler;
    execution_ = match.execution;
    request_.path_suffix.assign(match.path_suffix);
    if (auto length = header_parser_->content_length();
        length && *length > server_.options().max_body_bytes &&
        match.body_mode == BodyMode::BUFFERED) {
      return Reject(Error{ErrorCode::RESOURCE_EXHAUSTED,
                          fmt::format("Request body of {} bytes exceeds the limit of {} bytes.",
                                      *length, server_.options().max_body_bytes)},
                    413);
    }
    bool expects_continue = beast::iequals(header[bhttp::field::expect], "100-continue");
    if (match.body_mode == BodyMode::STREAMED && handler_ != nullptr) {
      net::post(server_.workers(), [self = shared_from_this(), expects_continue] {
        Guarded("streamed handler", [&] { self->HandleStreamed(expects_continue); });
      });
      return;
    }
    body_parser_.emplace(std::move(*header_parser_));
    body_parser_->body_limit(server_.options().max_body_bytes);
    if (expects_continue && !body_parser_->is_done()) {
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                         if (write_ec) return self->Close();
                         Guarded("read body", [&] { self->ReadBody(); });
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(server_.options().idle_timeout);
    bhttp::async_read(stream_, buffer_, *body_parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        Guarded("read body", [&] { self->OnBody(ec); });
                      });
  }

  void OnBody(beast::error_code ec) {
    stream_.expires_never();
    if (ec == bhttp::error::body_limit) {
      return Reject(Error{ErrorCode::RESOURCE_EXHAUSTED,
                          fmt::format("Request body exceeds the limit of {} bytes.",
                                      server_.options().max_body_bytes)},
                    413);
    }
    if (ec) return Close();
    request_.body = std::move(body_parser_->get().body());
    body_parser_.reset();
    if (async_handler_ != nullptr && execution_ == Execution::INLINE &&
        request_.body.size() <= kInlineBodyBytes) {
      // The route promised not to block: run it here and save a hand-off to a worker. A large
      // body goes to a worker all the same, so parsing it does not hold up this thread's other
      // connections.
      return InvokeAsync();
    }
    net::post(server_.workers(), [self = shared_from_this()] {
      Guarded("handler", [&] {
        if (self->async_handler_ != nullptr) return self->InvokeAsync();
        self->Send(self->Invoke());
      });
    });
  }

  void HandleStreamed(bool expects_continue);

  /// Runs the synchronous handler (worker thread); what it throws becomes a 500.
  Response Invoke() {
    try {
      return (*handler_)(request_);
    } catch (const std::exception& error) {
      spdlog::error("unhandled error in handler path={} error={}", request_.path, error.what());
    } catch (...) {
      spdlog::error("unhandled non-standard error in handler path={}", request_.path);
    }
    return ErrorResponse(Error::Internal("Internal server error."));
  }

  /// Runs the asynchronous handler. If it throws, its reply (wherever it got to) answers 500
  /// when dropped, unless it was answered already; then the request may be gone, so the log
  /// line cannot name it.
  void InvokeAsync() {
    try {
      (*async_handler_)(request_, Reply(shared_from_this()));
    } catch (const std::exception& error) {
      spdlog::error("unhandled error in an asynchronous handler error={}", error.what());
    } catch (...) {
      spdlog::error("unhandled non-standard error in an asynchronous handler");
    }
  }

  /// Writes `response_` (I/O thread). A file body goes out with sendfile(2) on a worker, as it
  /// may take long; everything else with one gathered asynchronous write.
  void WriteResponse() {
    keep_alive_ = keep_alive_ && !server_.stopping();
    bool head = request_.method == Method::HEAD;
    if (response_.file && !head) {
      net::post(server_.workers(), [self = shared_from_this()] {
        Guarded("write file", [&] { self->WriteFileResponse(); });
      });
      return;
    }
    std::uint64_t length = response_.file ? response_.file->size() : response_.body.size();
    FormatHeader(length);
    bytes_sent_ = head ? 0 : length;
    std::array<net::const_buffer, 2> buffers{net::buffer(header_text_),
                                             net::buffer(response_.body.data(), bytes_sent_)};
    stream_.expires_after(server_.options().idle_timeout);
    net::async_write(stream_, buffers,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       Guarded("finish response", [&] { self->AfterWrite(ec); });
                     });
  }

  /// The status line and header fields of `response_`, as Beast would frame them.
  void FormatHeader(std::uint64_t content_length) {
    auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(response_.status));
    header_text_.clear();
    fmt::format_to(std::back_inserter(header_text_),
                   "HTTP/1.1 {} {}\r\nServer: mltf\r\nContent-Type: {}\r\n", response_.status,
                   ToStd(reason), response_.content_type);
    for (const auto& [name, value] : response_.headers) {
      fmt::format_to(std::back_inserter(header_text_), "{}: {}\r\n", name, value);
    }
    if (!keep_alive_) header_text_ += "Connection: close\r\n";
    fmt::format_to(std::back_inserter(header_text_), "Content-Length: {}\r\n\r\n", content_length);
  }

  /// Writes the header and a file body synchronously (worker thread), then continues on the
  /// I/O thread.
  void WriteFileResponse() {
    std::uint64_t size = response_.file->size();
    FormatHeader(size);
    beast::error_code ec;
    net::write(stream_, net::buffer(header_text_), ec);
    if (!ec) SendFile(*response_.file, ec);
    bytes_sent_ = size;
    net::post(stream_.get_executor(), [self = shared_from_this(), ec] {
      Guarded("finish response", [&] { self->AfterWrite(ec); });
    });
  }

  /// Logs the exchange and reads the next request (keep-alive) or closes (I/O thread).
  void AfterWrite(beast::error_code ec) {
    stream_.expires_never();
    if (server_.options().access_log) {
      auto elapsed =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_);
      spdlog::info("http {} {} {} {} {} {:.3f}ms", remote_, MethodName(request_.method),
                   request_.target, response_.status, bytes_sent_, elapsed.count());
    }
    ResetRequest();
    if (!keep_alive_ || ec) return Close();
    ReadHeader();
  }

  /// Forgets the last exchange, keeping the buffers' capacity for the next one.
  void ResetRequest() {
    request_.method = Method::GET;
    request_.target.clear();
    request_.path.clear();
    request_.query.clear();
    request_.headers.clear();
    request_.body.clear();
    request_.body_reader = nullptr;
    request_.path_suffix.clear();
    request_.caller.reset();
    response_ = Response{};
    handler_ = nullptr;
    async_handler_ = nullptr;
  }

  /// Streams a file with sendfile(2): no copy through user space.
  void SendFile(const FileBody& file, beast::error_code& ec) {
    int socket_fd = stream_.socket().native_handle();
    off_t offset = 0;
    auto remaining = static_cast<std::int64_t>(file.size());
    while (remaining > 0) {
      ssize_t sent =
          ::sendfile(socket_fd, file.fd(), &offset,
                     static_cast<std::size_t>(std::min<std::int64_t>(remaining, 1 << 30)));
      if (sent > 0) {
        remaining -= sent;
        continue;
      }
      if (sent < 0 && (errno == EAGAIN || errno == EINTR)) {
        pollfd waiter{socket_fd, POLLOUT, 0};
        int ready =
            ::poll(&waiter, 1, static_cast<int>(server_.options().idle_timeout.count() * 1000));
        if (ready > 0) continue;
      }
      ec = sent == 0 ? beast::error_code(net::error::eof)
                     : beast::error_code(errno, beast::system_category());
      return;
    }
  }

  /// Answers an error without running a handler and closes the connection: the rest of the
  /// request may be unread. Runs on the I/O thread.
  void Reject(const Error& error, int status) {
    keep_alive_ = false;
    response_ = ErrorResponse(error, status);
    WriteResponse();
  }

  /// 401 with the authenticator's challenge. The connection closes: the body is never read.
  void RejectUnauthenticated(const Authenticator& authenticator, const Error& error) {
    keep_alive_ = false;
    response_ = ErrorResponse(error, 401);
    response_.headers.emplace_back("WWW-Authenticate", authenticator.Challenge());
    WriteResponse();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  /// Bodies up to this size are parsed by inline handlers on the I/O thread (a 1000-metric
  /// log-batch is about 80 kB and parses in well under a millisecond).
  static constexpr std::size_t kInlineBodyBytes = std::size_t{1024} * 1024;

  beast::tcp_stream stream_;
  Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  Request request_;
  Response response_;
  std::string header_text_;  // the response's status line and fields while they are written
  const Handler* handler_ = nullptr;
  const AsyncHandler* async_handler_ = nullptr;
  Execution execution_ = Execution::WORKER;
  std::string remote_;
  bool keep_alive_ = true;
  std::uint64_t bytes_sent_ = 0;
  std::atomic<bool> idle_{false};
  std::chrono::steady_clock::time_point started_;
};

/// Reads a streamed request body synchronously on the worker thread.
class Server::Impl::Session::StreamedBody final : public BodyReader {
 public:
  StreamedBody(Session& session, bhttp::request_parser<bhttp::empty_body>&& header_parser)
      : session_(session), parser_(std::move(header_parser)) {
    // Streamed bodies are bounded by the handler, not here.
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    // With a known length and no chunking the body is the next bytes on the wire: read them
    // straight into the caller's buffer, in large pieces, instead of through the parser.
    if (!parser_.chunked() && parser_.content_length()) raw_remaining_ = *parser_.content_length();
  }

  Result<std::size_t> Read(std::span<char> buffer) override {
    if (raw_remaining_) return ReadRaw(buffer);
    if (parser_.is_done() || buffer.empty()) return std::size_t{0};
    parser_.get().body().data = buffer.data();
    parser_.get().body().size = buffer.size();
    beast::error_code ec;
    bhttp::read(session_.stream_, session_.buffer_, parser_, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      return Fail(Error{ErrorCode::BAD_REQUEST, "Request body could not be read: " + ec.message()});
    }
    return buffer.size() - parser_.get().body().size;
  }

  [[nodiscard]] std::optional<std::uint64_t> ContentLength() const override {
    if (auto length = parser_.content_length()) return *length;
    return std::nullopt;
  }

  [[nodiscard]] bool Done() const {
    return raw_remaining_ ? *raw_remaining_ == 0 : parser_.is_done();
  }

 private:
  Result<std::size_t> ReadRaw(std::span<char> buffer) {
    std::size_t wanted =
        static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), *raw_remaining_));
    if (wanted == 0) return std::size_t{0};
    std::size_t taken = 0;
    if (session_.buffer_.size() > 0) {  // bytes that arrived with the header
      taken = net::buffer_copy(net::buffer(buffer.data(), wanted), session_.buffer_.data());
      session_.buffer_.consume(taken);
    } else {
      beast::error_code ec;
      taken = session_.stream_.socket().read_some(net::buffer(buffer.data(), wanted), ec);
      if (ec) {
        return Fail(
            Error{ErrorCode::BAD_REQUEST, "Request body could not be read: " + ec.message()});
      }
    }
    *raw_remaining_ -= taken;
    return taken;
  }

  Session& session_;
  bhttp::request_parser<bhttp::buffer_body> parser_;
  std::optional<std::uint64_t> raw_remaining_;  // set when the body is read without the parser
};

void Server::Impl::Session::HandleStreamed(bool expects_continue) {
  if (expects_continue) {
    beast::error_code ec;
    net::write(stream_, net::buffer(kContinue), ec);
    if (ec) {
      net::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
      return;
    }
  }
  StreamedBody body(*this, std::move(*header_parser_));
  header_parser_.reset();
  request_.body_reader = &body;
  Response response = Invoke();
  request_.body_reader = nullptr;
  // A handler that stopped reading early leaves bytes on the wire: the connection can't be reused.
  if (!body.Done()) keep_alive_ = false;
  Send(std::move(response));
}

Result<void> Server::Impl::Listen() {
  beast::error_code ec;
  auto address = net::ip::make_address(options_.host, ec);
  if (ec) return Fail(Error::InvalidParameter("Invalid listen address: " + options_.host));
  tcp::endpoint endpoint{address, options_.port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Fail(Error::Unavailable(
        fmt::format("Cannot listen on {}:{}: {}", options_.host, options_.port, ec.message())));
  }
  bound_port_ = acceptor_.local_endpoint().port();
  return {};
}

void Server::Impl::Accept() {
  net::io_context& context = *contexts_[next_context_];
  next_context_ = (next_context_ + 1) % contexts_.size();
  acceptor_.async_accept(context, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor_.is_open()) return;
      spdlog::warn("accept failed error={}", ec.message());
    } else {
      auto session = std::make_shared<Session>(std::move(socket), *this);
      Register(session);
      session->Start();
    }
    Accept();
  });
}

void Server::Impl::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.insert(session.get());
  session_refs_.emplace_back(session);
  if (session_refs_.size() > 2 * sessions_.size() + 64) {
    std::erase_if(session_refs_, [](const auto& ref) { return ref.expired(); });
  }
}

void Server::Impl::Unregister(Session* session) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.erase(session);
}

void Server::Impl::AwaitSessions(std::chrono::steady_clock::time_point deadline) {
  // Polled rather than cancelled from Unregister: a cancel racing with the arming of the timer
  // on another I/O thread could otherwise leave it waiting the whole grace period.
  {
    std::lock_guard lock(sessions_mutex_);
    if (sessions_.empty()) {
      idle_guards_.clear();  // every context now runs out of work, and its thread returns
      return;
    }
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    spdlog::warn("shutdown grace period over: dropping remaining connections");
    for (auto& context : contexts_) context->stop();
    return;
  }
  grace_timer_.expires_after(std::chrono::milliseconds(20));
  grace_timer_.async_wait([this, deadline](beast::error_code ec) {
    if (!ec) AwaitSessions(deadline);
  });
}

void Server::Impl::BeginShutdown() {
  if (stopping_.exchange(true)) return;
  spdlog::info("shutting down: finishing in-flight requests");
  beast::error_code ignored;
  acceptor_.close(ignored);
  signals_.cancel(ignored);
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mutex_);
    for (auto& ref : session_refs_) {
      if (auto session = ref.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) {
    net::post(session->executor(), [session] { session->CloseIfIdle(); });
  }
  live.clear();
  AwaitSessions(std::chrono::steady_clock::now() + options_.shutdown_grace);
}

std::vector<std::unique_ptr<net::io_context>> Server::Impl::MakeContexts(int count) {
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (int context_idx = 0; context_idx < std::max(count, 1); ++context_idx) {
    contexts.push_back(std::make_unique<net::io_context>(1));  // 1: run by one thread
  }
  return contexts;
}

void Server::Impl::RunContext(net::io_context& context) {
  while (true) {
    try {
      context.run();
      return;
    } catch (const std::exception& error) {
      spdlog::error("http: unhandled error on an I/O thread error={}", error.what());
    } catch (...) {
      spdlog::error("http: unhandled non-standard error on an I/O thread");
    }
  }
}

void Server::Impl::Run() {
  signals_.async_wait([this](beast::error_code ec, int) {
    if (!ec) BeginShutdown();
  });
  Accept();
  for (auto& context : contexts_) idle_guards_.push_back(net::make_work_guard(*context));
  std::vector<std::jthread> threads;
  for (std::size_t context_idx = 1; context_idx < contexts_.size(); ++context_idx) {
    threads.emplace_back([context = contexts_[context_idx].get()] { RunContext(*context); });
  }
  RunContext(*contexts_.front());
  threads.clear();  // joins
  workers_.join();
}

void Server::Impl::Stop() {
  if (stopping()) return;
  net::post(*contexts_.front(), [this] { BeginShutdown(); });
}

Server::Server(ServerOptions options, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}
Server::~Server() = default;
Result<void> Server::Listen() { return impl_->Listen(); }
std::uint16_t Server::port() const { return impl_->port(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace mltf::http
