// Predicate for BOOST_CHECK_EXCEPTION: the error message contains every given fragment (and is
// printed when it does not, so a failing test shows the actual message).
#pragma once
#include <boost/test/unit_test.hpp>
#include <initializer_list>
#include <string>

#include "tensor/error.h"

namespace difflab::testing {

inline bool message_has(const difflab::Error& e, std::initializer_list<const char*> parts) {
  std::string w = e.what();
  for (const char* p : parts)
    if (w.find(p) == std::string::npos) {
      BOOST_TEST_MESSAGE("message '" << w << "' lacks '" << p << "'");
      return false;
    }
  return true;
}

}  // namespace difflab::testing
