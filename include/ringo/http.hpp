// The http layer: messages, the server and its handlers, the client transport.
#pragma once

#include <ringo/http/body.hpp>
#include <ringo/http/client.hpp>
#include <ringo/http/client_request.hpp>
#include <ringo/http/cookie.hpp>
#include <ringo/http/cookie_jar.hpp>
#include <ringo/http/error.hpp>
#include <ringo/http/fs.hpp>
#include <ringo/http/handler.hpp>
#include <ringo/http/handlers.hpp>
#include <ringo/http/headers.hpp>
#include <ringo/http/mux.hpp>
#include <ringo/http/proxy.hpp>
#include <ringo/http/request.hpp>
#include <ringo/http/response.hpp>
#include <ringo/http/response_writer.hpp>
#include <ringo/http/reverse_proxy.hpp>
#include <ringo/http/server.hpp>
#include <ringo/http/sniff.hpp>
#include <ringo/http/status.hpp>
#include <ringo/http/transport.hpp>
#include <ringo/http/url.hpp>
#include <ringo/net.hpp>
