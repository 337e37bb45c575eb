// Everything ringo offers.
#pragma once

#include <ringo/runtime.hpp>
