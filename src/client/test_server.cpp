// test_server.cpp - the scripted Python test server behind TestServer.
#include "client/test_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include "client/http_client.hpp"

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX name.

namespace mltf::client::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kServerScript = R"PY(
import hashlib, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

routes = json.load(open(sys.argv[1]))
port_file = sys.argv[2]
requests, counters, lock = [], {}, threading.Lock()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def reply(self, status, data, headers):
        self.send_response(status)
        if not any(k.lower() == "content-type" for k in headers):
            self.send_header("Content-Type", "application/json")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        body = self.read_body()
        if self.path == "/__requests":
            with lock:
                data = json.dumps(requests).encode()
            self.reply(200, data, {})
            return
        key = self.command + " " + self.path.split("?")[0]
        with lock:
            requests.append({
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace") if len(body) < 4194304 else "",
                "size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                "client_port": self.client_address[1]})
            answers = routes.get(key) or [{"status": 200, "body": {}}]
            index = counters.get(key, 0)
            counters[key] = index + 1
            answer = answers[min(index, len(answers) - 1)]
        if answer.get("delay_ms"):
            time.sleep(answer["delay_ms"] / 1000.0)
        headers = answer.get("headers", {})
        if "chunks" in answer:
            self.send_response(answer.get("status", 200))
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in answer["chunks"]:
                data = chunk.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(0.02)
            self.wfile.write(b"0\r\n\r\n")
            return
        payload = answer.get("body", {})
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.reply(answer.get("status", 200), data, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

def watch_stdin():
    sys.stdin.buffer.read()
    os._exit(0)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
threading.Thread(target=watch_stdin, daemon=True).start()
with open(port_file + ".tmp", "w") as out:
    out.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
)PY";

fs::path MakeTempDir() {
  std::random_device random;
  auto dir = fs::temp_directory_path() / ("mltf-client-test-" + std::to_string(random()));
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TestServer::TestServer(const nlohmann::json& routes) : dir_(MakeTempDir()) {
  std::ofstream(dir_ / "server.py") << kServerScript;
  std::ofstream(dir_ / "routes.json") << routes.dump();
  const char* python_env = std::getenv("MLTF_TEST_PYTHON");  // NOLINT(concurrency-mt-unsafe)
  const std::string python = python_env != nullptr ? python_env : "/usr/bin/python3";
  const std::string script = (dir_ / "server.py").string();
  const std::string routes_file = (dir_ / "routes.json").string();
  const std::string port_file = (dir_ / "port").string();

  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  std::vector<std::string> args = {python, script, routes_file, port_file};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int rc = posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[0]);
  stdin_fd_ = pipe_fds[1];
  if (rc != 0) {
    close(stdin_fd_);
    throw std::runtime_error("cannot start " + python);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!fs::exists(port_file)) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("the test server did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::ifstream(port_file) >> port_;
}

TestServer::~TestServer() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

nlohmann::json TestServer::Requests() const {
  HttpClient http(url());
  auto response = http.Get("/__requests");
  if (!response) throw std::runtime_error(response.error().message);
  return nlohmann::json::parse(response->body);
}

int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API.
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind a socket on 127.0.0.1");
  }
  socklen_t length = sizeof(address);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API.
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace mltf::client::testing
