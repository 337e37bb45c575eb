// Everything ringo offers.
#pragma once

#include <ringo/http.hpp>
#include <ringo/net.hpp>
#include <ringo/runtime.hpp>
