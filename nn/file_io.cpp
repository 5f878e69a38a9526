#include "nn/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace difflab::nn {

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
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      DIFFLAB_FAIL(op, ": cannot write '", tmp, "': ", std::strerror(e));
    }
    off += size_t(n);
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
