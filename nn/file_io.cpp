#include "nn/file_io.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace difflab::nn {

namespace {
// The kill/resume test's hook: DIFFLAB_TEST_KILL_IN_WRITE=n makes the n-th atomic write of this
// process stop dead (SIGKILL) halfway through its temporary file, the worst moment for a crash.
bool kill_in_this_write() {
  static const long target = [] {
    const char* v = std::getenv("DIFFLAB_TEST_KILL_IN_WRITE");
    return v ? std::atol(v) : 0L;
  }();
  static std::atomic<long> count{0};
  return target > 0 && ++count == target;
}
}  // namespace

void write_file_atomic(const std::string& path, const std::string& data, const char* op) {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    DIFFLAB_CHECK(!ec, op, ": cannot create directory '", p.parent_path().string(),
                  "': ", ec.message());
  }
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  DIFFLAB_CHECK(fd >= 0, op, ": cannot write '", tmp, "': ", std::strerror(errno));
  const bool die = kill_in_this_write();
  const size_t end = die ? data.size() / 2 : data.size();
  size_t off = 0;
  while (off < end) {
    ssize_t n = ::write(fd, data.data() + off, end - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      DIFFLAB_FAIL(op, ": cannot write '", tmp, "': ", std::strerror(e));
    }
    off += size_t(n);
  }
  if (die) {
    ::fsync(fd);
    ::raise(SIGKILL);
  }
  bool ok = ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    DIFFLAB_FAIL(op, ": cannot write '", path, "': ", std::strerror(e));
  }
}

}  // namespace difflab::nn
