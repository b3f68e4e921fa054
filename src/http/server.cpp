// server.cpp - HTTP/1.1 over Boost.Beast.
//
// Protocol of one connection (a Session):
//   1. On the connection's strand (an I/O thread): read the header, bounded by max_header_bytes.
//   2. Route it. A buffered route's body is read on the strand too, bounded by max_body_bytes;
//      a streamed route (artifact upload) reads its body on the worker, in pieces.
//   3. On a worker thread: run the handler, then write the response synchronously (a file body
//      goes out with sendfile(2)), and hand the connection back to the strand for the next
//      request (keep-alive) or close it.
// Shutdown: stop accepting, close idle connections, let busy ones finish their request and
// close, then stop the I/O threads and join the workers. A grace timer bounds the wait.
#include "http/server.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/sendfile.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <csignal>
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
        io_(options_.io_threads),
        acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM),
        grace_timer_(io_),
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
  void Accept();
  void BeginShutdown();

  ServerOptions options_;
  const Router& router_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer grace_timer_;
  net::thread_pool workers_;
  std::uint16_t bound_port_ = 0;
  std::atomic<bool> stopping_{false};

  std::mutex sessions_mutex_;
  std::unordered_set<Session*> sessions_;  // guarded by sessions_mutex_
  std::vector<std::weak_ptr<Session>> session_refs_;
};

/// One client connection. Exactly one operation is in flight at a time, so the state below is
/// touched by one thread at a time: the strand while reading, a worker while handling.
class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl& server) : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_.Unregister(this); }

  void Start() {
    beast::error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
    auto endpoint = stream_.socket().remote_endpoint(ignored);
    remote_ = ignored ? std::string("-") : endpoint.address().to_string();
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  /// Called on the strand at shutdown: an idle connection is closed now, a busy one after its
  /// response.
  void CloseIfIdle() {
    if (idle_) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.socket().close(ignored);
    }
  }

  auto executor() { return stream_.get_executor(); }

 private:
  class StreamedBody;

  void ReadHeader() {
    if (server_.stopping()) return Close();
    idle_ = true;
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<std::uint32_t>(server_.options().max_header_bytes));
    header_parser_->body_limit(server_.options().max_body_bytes);
    stream_.expires_after(server_.options().idle_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *header_parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
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
    request_ = Request{};
    request_.method = ToMethod(header.method());
    request_.target = std::string(ToStd(header.target()));
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
    if (!match.handler) {
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
    handler_ = match.handler;
    request_.path_suffix = std::string(match.path_suffix);
    if (auto length = header_parser_->content_length();
        length && *length > server_.options().max_body_bytes &&
        match.body_mode == BodyMode::BUFFERED) {
      return Reject(Error{ErrorCode::RESOURCE_EXHAUSTED,
                          fmt::format("Request body of {} bytes exceeds the limit of {} bytes.",
                                      *length, server_.options().max_body_bytes)},
                    413);
    }
    bool expects_continue = beast::iequals(header[bhttp::field::expect], "100-continue");
    if (match.body_mode == BodyMode::STREAMED) {
      net::post(server_.workers(), [self = shared_from_this(), expects_continue] {
        self->HandleStreamed(expects_continue);
      });
      return;
    }
    body_parser_.emplace(std::move(*header_parser_));
    body_parser_->body_limit(server_.options().max_body_bytes);
    if (expects_continue && !body_parser_->is_done()) {
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                         if (write_ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(server_.options().idle_timeout);
    bhttp::async_read(
        stream_, buffer_, *body_parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnBody(ec); });
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
    net::post(server_.workers(), [self = shared_from_this()] { self->HandleBuffered(); });
  }

  // Worker thread from here on.
  void HandleBuffered() {
    Response response = Invoke();
    Finish(response);
  }

  void HandleStreamed(bool expects_continue);

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

  /// Writes the response (worker thread), then continues on the strand.
  void Finish(Response& response) {
    bool keep_alive = keep_alive_ && !server_.stopping();
    std::uint64_t bytes = Write(response, keep_alive);
    if (server_.options().access_log) {
      auto elapsed =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_);
      spdlog::info("http {} {} {} {} {} {:.3f}ms", remote_, MethodName(request_.method),
                   request_.target, response.status, bytes, elapsed.count());
    }
    request_ = Request{};
    if (!keep_alive || !write_ok_) {
      net::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
      return;
    }
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  std::uint64_t Write(Response& response, bool keep_alive) {
    beast::error_code ec;
    bool head = request_.method == Method::HEAD;
    auto fill_header = [&](auto& message) {
      message.set(bhttp::field::server, "mltf");
      message.set(bhttp::field::content_type, response.content_type);
      for (const auto& [name, value] : response.headers) message.set(name, value);
      message.keep_alive(keep_alive);
    };
    if (response.file || head) {
      bhttp::response<bhttp::empty_body> message{static_cast<bhttp::status>(response.status), 11};
      fill_header(message);
      std::uint64_t size = response.file ? response.file->size() : response.body.size();
      message.content_length(size);
      bhttp::response_serializer<bhttp::empty_body> serializer{message};
      bhttp::write_header(stream_, serializer, ec);
      if (!ec && !head && response.file) SendFile(*response.file, ec);
      write_ok_ = !ec;
      return head ? 0 : size;
    }
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(response.status), 11};
    fill_header(message);
    message.body() = std::move(response.body);
    message.prepare_payload();
    std::uint64_t size = message.body().size();
    bhttp::write(stream_, message, ec);
    write_ok_ = !ec;
    return size;
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
  /// request may be unread.
  void Reject(const Error& error, int status) {
    keep_alive_ = false;
    net::post(server_.workers(),
              [self = shared_from_this(), response = ErrorResponse(error, status)]() mutable {
                self->Finish(response);
              });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

  beast::tcp_stream stream_;
  Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  Request request_;
  const Handler* handler_ = nullptr;
  std::string remote_;
  bool keep_alive_ = true;
  bool write_ok_ = true;
  std::atomic<bool> idle_{false};
  std::chrono::steady_clock::time_point started_;
};

/// Reads a streamed request body synchronously on the worker thread.
class Server::Impl::Session::StreamedBody final : public BodyReader {
 public:
  StreamedBody(Session& session, bhttp::request_parser<bhttp::empty_body>&& header_parser)
      : session_(session), parser_(std::move(header_parser)) {
    parser_.body_limit(boost::none);  // streamed bodies are bounded by the handler, not here
  }

  Result<std::size_t> Read(std::span<char> buffer) override {
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

  [[nodiscard]] bool Done() const { return parser_.is_done(); }

 private:
  Session& session_;
  bhttp::request_parser<bhttp::buffer_body> parser_;
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
  Finish(response);
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
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
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
  if (stopping() && sessions_.empty()) {
    net::post(io_, [this] { grace_timer_.cancel(); });
  }
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
    if (sessions_.empty()) return;
  }
  for (auto& session : live) {
    net::post(session->executor(), [session] { session->CloseIfIdle(); });
  }
  grace_timer_.expires_after(options_.shutdown_grace);
  grace_timer_.async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled: every connection closed in time
    spdlog::warn("shutdown grace period over: dropping remaining connections");
    io_.stop();
  });
}

void Server::Impl::Run() {
  signals_.async_wait([this](beast::error_code ec, int) {
    if (!ec) BeginShutdown();
  });
  Accept();
  std::vector<std::jthread> threads;
  for (int thread_idx = 1; thread_idx < options_.io_threads; ++thread_idx) {
    threads.emplace_back([this] { io_.run(); });
  }
  io_.run();
  threads.clear();  // joins
  workers_.join();
}

void Server::Impl::Stop() {
  if (stopping()) return;
  net::post(io_, [this] { BeginShutdown(); });
}

Server::Server(ServerOptions options, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}
Server::~Server() = default;
Result<void> Server::Listen() { return impl_->Listen(); }
std::uint16_t Server::port() const { return impl_->port(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace mltf::http
