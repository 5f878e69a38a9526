#include "tests/support/run_helpers.h"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "nn/safetensors.h"

#ifndef DIFFLAB_CLI_PATH
#error "DIFFLAB_CLI_PATH (the difflab executable) must be defined by the build"
#endif

namespace difflab::testing {

std::string fresh_temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  std::string d = (fs::temp_directory_path() / ("difflab_" + name)).string();
  fs::remove_all(d);
  return d;
}

bool same_bits(const tensor::Tensor& a, const tensor::Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), a.nbytes()) == 0;
}

FileComparison compare_safetensors(const std::string& a, const std::string& b) {
  auto fa = nn::load_safetensors(a), fb = nn::load_safetensors(b);
  FileComparison r;
  for (auto& [k, t] : fa.tensors) {
    auto it = fb.tensors.find(k);
    if (it == fb.tensors.end()) {
      BOOST_TEST_MESSAGE("  only in " << a << ": " << k);
      ++r.unmatched;
      continue;
    }
    ++r.compared;
    if (!same_bits(t, it->second)) {
      BOOST_TEST_MESSAGE("  differs: " << k);
      ++r.differing;
    }
  }
  for (auto& [k, t] : fb.tensors)
    if (!fa.tensors.count(k)) {
      BOOST_TEST_MESSAGE("  only in " << b << ": " << k);
      ++r.unmatched;
    }
  return r;
}

pid_t spawn_difflab(const std::vector<std::string>& args, const std::string& log,
                    const std::map<std::string, std::string>& env, bool stderr_only) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  if (FILE* f = std::fopen(log.c_str(), stderr_only ? "w" : "a")) {
    if (!stderr_only) ::dup2(fileno(f), 1);
    ::dup2(fileno(f), 2);
  }
  std::string exe = DIFFLAB_CLI_PATH;
  std::vector<std::string> copy = args;
  std::vector<char*> argv{exe.data()};
  for (auto& s : copy) argv.push_back(s.data());
  argv.push_back(nullptr);
  ::execv(exe.c_str(), argv.data());
  std::_Exit(127);
}

int wait_status(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

}  // namespace difflab::testing
