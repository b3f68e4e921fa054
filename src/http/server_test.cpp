// server_test.cpp - the server over real sockets: synchronous and asynchronous handlers (inline
// on the I/O thread or on a worker, answered at once or later from another thread), lost
// replies, HEAD, 404/405/413, keep-alive, and a shutdown that waits for an in-flight reply.
#include "http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace mltf::http {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

/// Answers replies later, from a thread of its own, as a store's writer thread would.
class LateReplies {
 public:
  LateReplies()
      : thread_([this](const std::stop_token& stop) {
          std::unique_lock lock(mutex_);
          while (true) {
            ready_.wait(lock, stop, [&] { return !queue_.empty(); });
            if (queue_.empty()) return;
            auto [reply, delay] = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            std::this_thread::sleep_for(delay);
            reply(Response::Text("late"));
            lock.lock();
          }
        }) {}

  void Answer(Reply reply, std::chrono::milliseconds delay) {
    {
      std::lock_guard lock(mutex_);
      queue_.emplace_back(std::move(reply), delay);
    }
    ready_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any ready_;
  std::deque<std::pair<Reply, std::chrono::milliseconds>> queue_;
  std::jthread thread_;  // last: joined first
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(Method::GET, "/sync", [](Request&) { return Response::Text("sync"); });
    router_.AddAsync(
        Method::POST, "/inline",
        [this](Request& request, Reply reply) {
          late_.Answer(std::move(reply), 1ms * request.body.size());
        },
        Execution::INLINE);
    router_.AddAsync(Method::POST, "/worker",
                     [](Request& request, Reply reply) { reply(Response::Text(request.body)); });
    router_.AddAsync(
        Method::POST, "/drop", [](Request&, Reply) {}, Execution::INLINE);
    router_.AddAsync(
        Method::POST, "/throw", [](Request&, Reply) { throw std::runtime_error("boom"); },
        Execution::INLINE);
    ServerOptions options;
    options.port = 0;
    options.io_threads = 2;
    options.worker_threads = 2;
    options.max_body_bytes = 1024;
    options.access_log = false;
    options.authenticator = authenticator_;
    server_ = std::make_unique<Server>(options, router_);
    ASSERT_TRUE(server_->Listen());
    runner_ = std::jthread([this] { server_->Run(); });
  }

  void TearDown() override {
    server_->Stop();
    runner_.join();
  }

  tcp::socket Connect() {
    tcp::socket socket(client_io_);
    socket.connect({net::ip::make_address("127.0.0.1"), server_->port()});
    return socket;
  }

  static bhttp::response<bhttp::string_body> Exchange(tcp::socket& socket, bhttp::verb method,
                                                      std::string_view target,
                                                      std::string body = "") {
    bhttp::request<bhttp::string_body> request{method, std::string(target), 11};
    request.set(bhttp::field::host, "test");
    request.body() = std::move(body);
    request.prepare_payload();
    bhttp::write(socket, request);
    boost::beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(method == bhttp::verb::head);
    bhttp::read(socket, buffer, parser);
    return parser.release();
  }

  Router router_;
  const Authenticator* authenticator_ = nullptr;
  LateReplies late_;
  net::io_context client_io_;
  std::unique_ptr<Server> server_;
  std::jthread runner_;
};

TEST_F(ServerTest, OneConnectionServesSyncInlineAndWorkerHandlersInTurn) {
  auto socket = Connect();
  auto sync = Exchange(socket, bhttp::verb::get, "/sync");
  EXPECT_EQ(sync.result_int(), 200);
  EXPECT_EQ(sync.body(), "sync");
  auto late = Exchange(socket, bhttp::verb::post, "/inline", "xxxxx");  // answered 5 ms later
  EXPECT_EQ(late.result_int(), 200);
  EXPECT_EQ(late.body(), "late");
  EXPECT_TRUE(late.keep_alive());
  auto worker = Exchange(socket, bhttp::verb::post, "/worker", "echo");
  EXPECT_EQ(worker.body(), "echo");
  auto head = Exchange(socket, bhttp::verb::head, "/sync");
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(head[bhttp::field::content_length], "4");
  EXPECT_TRUE(head.body().empty());
  auto again = Exchange(socket, bhttp::verb::get, "/sync");  // the HEAD left nothing behind
  EXPECT_EQ(again.body(), "sync");
}

TEST_F(ServerTest, ADroppedReplyOrAThrowingHandlerAnswers500) {
  auto socket = Connect();
  auto dropped = Exchange(socket, bhttp::verb::post, "/drop");
  EXPECT_EQ(dropped.result_int(), 500);
  EXPECT_NE(dropped.body().find("INTERNAL_ERROR"), std::string::npos);
  auto thrown = Exchange(socket, bhttp::verb::post, "/throw");
  EXPECT_EQ(thrown.result_int(), 500);
  EXPECT_EQ(Exchange(socket, bhttp::verb::get, "/sync").body(), "sync");
}

TEST_F(ServerTest, UnknownPathWrongMethodAndOversizedBodyAreRejected) {
  auto not_found = Connect();
  auto missing = Exchange(not_found, bhttp::verb::get, "/nowhere");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_NE(missing.body().find("ENDPOINT_NOT_FOUND"), std::string::npos);
  EXPECT_FALSE(missing.keep_alive());
  auto wrong_method = Connect();
  EXPECT_EQ(Exchange(wrong_method, bhttp::verb::delete_, "/sync").result_int(), 405);
  auto too_large = Connect();
  auto rejected = Exchange(too_large, bhttp::verb::post, "/worker", std::string(2048, 'x'));
  EXPECT_EQ(rejected.result_int(), 413);
  EXPECT_NE(rejected.body().find("RESOURCE_EXHAUSTED"), std::string::npos);
}

TEST_F(ServerTest, ShutdownWaitsForTheReplyOfARequestInFlight) {
  auto socket = Connect();
  bhttp::request<bhttp::string_body> request{bhttp::verb::post, "/inline", 11};
  request.body() = std::string(200, 'x');  // answered 200 ms later
  request.prepare_payload();
  bhttp::write(socket, request);
  std::this_thread::sleep_for(50ms);  // the request is in flight
  server_->Stop();
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  bhttp::read(socket, buffer, response);
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "late");
  EXPECT_FALSE(response.keep_alive());  // the server is stopping: no further requests
  runner_.join();                       // and Run() returns once the connection is gone
  runner_ = std::jthread([] {});
}

/// Accepts exactly "Bearer good" (alice) and counts how often it was asked.
class OneTokenAuthenticator final : public Authenticator {
 public:
  Result<std::shared_ptr<const Identity>> Authenticate(const Request& request) const override {
    ++calls;
    if (request.Header("authorization") != "Bearer good") {
      return Fail(Error{ErrorCode::UNAUTHENTICATED, "no valid credential"});
    }
    return std::make_shared<const Identity>(Identity{.user = "alice"});
  }
  std::string Challenge() const override { return R"(Bearer realm="test")"; }

  mutable std::atomic<int> calls = 0;
};

class GatedServerTest : public ServerTest {
 protected:
  void SetUp() override {
    authenticator_ = &authenticator;
    auto who = [this](Request& request) {
      ++handled;
      return Response::Text(request.caller ? request.caller->user : "anonymous");
    };
    router_.Add(Method::GET, "/whoami", who);
    router_.Add(Method::POST, "/whoami", who);
    router_.Add(Method::GET, "/health", who);
    router_.AllowAnonymous("/health");
    ServerTest::SetUp();
  }

  static bhttp::response<bhttp::string_body> Call(tcp::socket& socket, bhttp::verb method,
                                                  std::string_view target,
                                                  std::string_view authorization) {
    bhttp::request<bhttp::string_body> request{method, std::string(target), 11};
    if (!authorization.empty())
      request.set(bhttp::field::authorization, std::string(authorization));
    request.body() = method == bhttp::verb::post ? "payload" : "";
    request.prepare_payload();
    bhttp::write(socket, request);
    boost::beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    bhttp::read(socket, buffer, response);
    return response;
  }

  OneTokenAuthenticator authenticator;
  std::atomic<int> handled = 0;
};

TEST_F(GatedServerTest, AMissingOrWrongCredentialIs401WithAChallengeAndReachesNoHandler) {
  for (std::string_view authorization : {"", "Bearer bad", "Basic Z29vZA==", "good"}) {
    SCOPED_TRACE(authorization);
    auto socket = Connect();
    auto refused = Call(socket, bhttp::verb::post, "/whoami", authorization);
    EXPECT_EQ(refused.result_int(), 401);
    EXPECT_EQ(refused[bhttp::field::www_authenticate], R"(Bearer realm="test")");
    EXPECT_NE(refused.body().find(R"("error_code":"UNAUTHENTICATED")"), std::string::npos);
    EXPECT_FALSE(refused.keep_alive());  // the unread body is not worth reading
  }
  EXPECT_EQ(handled, 0);
}

TEST_F(GatedServerTest, TheCallerReachesTheHandlerAndDoesNotOutliveItsRequest) {
  auto socket = Connect();
  EXPECT_EQ(Call(socket, bhttp::verb::get, "/whoami", "Bearer good").body(), "alice");
  // The same connection, next request on an anonymous route without a credential: the
  // previous caller must not carry over.
  auto health = Call(socket, bhttp::verb::get, "/health", "");
  EXPECT_EQ(health.result_int(), 200);
  EXPECT_EQ(health.body(), "anonymous");
  EXPECT_EQ(Call(socket, bhttp::verb::post, "/whoami", "Bearer good").body(), "alice");
}

TEST_F(GatedServerTest, AnonymousRoutesAreNotAskedAndUnknownPathsStay404) {
  auto socket = Connect();
  EXPECT_EQ(Call(socket, bhttp::verb::get, "/health", "Bearer bad").body(), "anonymous");
  EXPECT_EQ(authenticator.calls, 0);
  auto other = Connect();
  EXPECT_EQ(Call(other, bhttp::verb::get, "/nowhere", "").result_int(), 404);
}

}  // namespace
}  // namespace mltf::http
