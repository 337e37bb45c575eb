// tls interop: ringo's TLS client and server against other implementations over loopback:
// OpenSSL's s_server and s_client, and Python's ssl module (/usr/bin/python3). Each test skips
// with a message when its peer is missing.
#include <fstream>
#include <string>

#include "tls_test.hpp"

namespace ringo::net {
namespace {

using ringo::test::child_process;
using ringo::test::have_program;
using ringo::test::value_or;
using test::soon;
using namespace std::chrono_literals;

class TlsInterop : public test::TlsTest {};

constexpr const char* openssl = "/usr/bin/openssl";
constexpr const char* python = "/usr/bin/python3";

// Reads until the end of the stream or an error (a peer closing without close_notify), which
// goes to `end` when given.
task<std::string> read_all(stream* s, std::error_code* end = nullptr) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = co_await s->read(buf, {}, soon());
    if (!n && end) *end = n.error();
    if (!n || *n == 0) break;
    out.append(buf, *n);
  }
  co_return out;
}

// The port in s_server's "ACCEPT 127.0.0.1:PORT" line, or in a script's "PORT n" line.
std::string port_of(const std::string& line) {
  return line.substr(line.find_last_of(": ") + 1);
}

TEST_F(TlsInterop, RingoClientTalksToOpensslSServerAndResumes) {
  if (!have_program(openssl)) GTEST_SKIP() << "no " << openssl;
  child_process server({openssl, "s_server", "-accept", "127.0.0.1:0", "-cert", certs().leaf,
                        "-key", certs().leaf_key, "-www", "-alpn", "h2,http/1.1", "-naccept", "2"});
  auto line = server.wait_for_line("ACCEPT", 10s);
  ASSERT_TRUE(line) << server.output();
  std::string where = "127.0.0.1:" + port_of(*line);
  tls_config cc = client_config();
  cc.next_protos = {"h2"};
  tls_context ctx(cc);
  ringo::run([&]() -> task<void> {
    for (int round = 0; round < 2; ++round) {
      auto c = co_await dial_tls("tcp", where, ctx);  // verifies the IP SAN 127.0.0.1
      EXPECT_TRUE(c) << c.error().message();
      CO_ASSERT(c);
      (void)co_await c->write_all("GET / HTTP/1.0\r\n\r\n");
      std::string page = co_await read_all(&*c);
      EXPECT_EQ(page.rfind("HTTP/1.0 200 ok", 0), 0u) << page.substr(0, 200);
      auto st = c->connection_state();
      EXPECT_EQ(st.negotiated_protocol, "h2");
      EXPECT_EQ(st.version_name(), "TLS 1.3");
      EXPECT_EQ(st.did_resume, round == 1) << "round " << round;
    }
  }());
  server.finish(10s);
}

TEST_F(TlsInterop, OpensslSClientTalksToRingoServer) {
  if (!have_program(openssl)) GTEST_SKIP() << "no " << openssl;
  std::string input = certs().dir + "/s_client_input";
  std::ofstream(input) << "hello from s_client\n";
  auto l = listen("tcp", "127.0.0.1:0").value();
  child_process client({openssl, "s_client", "-connect", l.addr().to_string(), "-CAfile",
                        certs().ca, "-verify_return_error", "-verify_hostname", "localhost",
                        "-servername", "localhost", "-alpn", "h2", "-quiet"},
                       input);
  tls_config sc = server_config();
  sc.next_protos = {"h2", "http/1.1"};
  ringo::run([&]() -> task<void> {
    auto accepted = co_await l.accept();
    CO_ASSERT(accepted);
    auto s = co_await tls_server(std::move(*accepted), tls_context(sc), {}, soon());
    EXPECT_TRUE(s) << s.error().message();
    CO_ASSERT(s);
    char line[20];
    EXPECT_EQ(value_or(co_await s->read_full(line, {}, soon()), 0u), 20u);
    EXPECT_EQ(std::string(line, 20), "hello from s_client\n");
    auto st = s->connection_state();
    EXPECT_EQ(st.negotiated_protocol, "h2");
    EXPECT_EQ(st.server_name, "localhost");
    EXPECT_TRUE(co_await s->write_all("hello from ringo\n"));
    EXPECT_TRUE(co_await s->close_write());
    (void)co_await read_all(&*s);  // s_client's close_notify, or its plain exit
  }());
  std::string out = client.finish(10s);
  EXPECT_NE(out.find("hello from ringo"), std::string::npos) << out;
}

constexpr const char* python_client = R"(
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["h2", "http/1.1"])
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"hello from python\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        print("GOT", data.decode().strip(), s.version(), s.selected_alpn_protocol(), flush=True)
)";

TEST_F(TlsInterop, PythonClientTalksToRingoServer) {
  if (!have_program(python)) GTEST_SKIP() << "no " << python;
  auto l = listen("tcp", "127.0.0.1:0").value();
  child_process client({python, "-c", python_client, std::to_string(l.addr().port()), certs().ca});
  tls_config sc = server_config();
  sc.next_protos = {"http/1.1"};
  ringo::run([&]() -> task<void> {
    auto accepted = co_await l.accept({});
    CO_ASSERT(accepted);
    auto s = co_await tls_server(std::move(*accepted), tls_context(sc), {}, soon());
    EXPECT_TRUE(s) << s.error().message();
    CO_ASSERT(s);
    char line[18];
    EXPECT_EQ(value_or(co_await s->read_full(line, {}, soon()), 0u), 18u);
    EXPECT_EQ(std::string(line, 18), "hello from python\n");
    EXPECT_TRUE(co_await s->write_all("hello from ringo\n"));
    EXPECT_TRUE(co_await s->close_write());
    (void)co_await read_all(&*s);
  }());
  std::string out = client.finish(10s);
  EXPECT_NE(out.find("GOT hello from ringo TLSv1.3 http/1.1"), std::string::npos) << out;
}

constexpr const char* python_server = R"(
import socket, ssl, sys
cert, key = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["http/1.1"])
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print("PORT", srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
s = ctx.wrap_socket(conn, server_side=True)
data = s.recv(100)
s.sendall(data.upper())
version = s.version()
raw = s.unwrap()  # sends close_notify, then waits for the client's
raw.close()
print("DONE", version, flush=True)
)";

TEST_F(TlsInterop, RingoClientTalksToPythonServerAndBothCloseCleanly) {
  if (!have_program(python)) GTEST_SKIP() << "no " << python;
  child_process server({python, "-c", python_server, certs().leaf, certs().leaf_key});
  auto line = server.wait_for_line("PORT", 10s);
  ASSERT_TRUE(line) << server.output();
  std::string where = "localhost:" + port_of(*line);
  tls_config cc = client_config();
  cc.next_protos = {"h2", "http/1.1"};
  ringo::run([&]() -> task<void> {
    dialer d{.fallback_delay = -1ms};  // the server is on 127.0.0.1 only
    auto c = co_await dial_tls_with_dialer(d, "tcp4", where, tls_context(cc));
    EXPECT_TRUE(c) << c.error().message();
    CO_ASSERT(c);
    EXPECT_TRUE(co_await c->write_all("shout"));
    std::error_code end;
    std::string answer = co_await read_all(&*c, &end);
    EXPECT_EQ(answer, "SHOUT");
    EXPECT_FALSE(end) << "not Python's close_notify but " << end.message();
    EXPECT_TRUE(co_await c->close_write());  // ours, which Python's unwrap() waits for
    EXPECT_EQ(c->connection_state().negotiated_protocol, "http/1.1");
  }());
  std::string out = server.finish(10s);
  EXPECT_NE(out.find("DONE TLSv1.3"), std::string::npos) << out;
}

}  // namespace
}  // namespace ringo::net
