#include "experiments/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace difflab::experiments {

namespace fs = std::filesystem;

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  DIFFLAB_CHECK(!ec, "cannot create directory '", path, "': ", ec.message());
}

void write_file_atomic(const std::string& path, const std::string& data) {
  fs::path p(path);
  if (p.has_parent_path()) make_dirs(p.parent_path().string());
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  DIFFLAB_CHECK(fd >= 0, "cannot write '", tmp, "': ", std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      DIFFLAB_FAIL("cannot write '", tmp, "': ", std::strerror(e));
    }
    off += size_t(n);
  }
  bool ok = ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    DIFFLAB_FAIL("cannot write '", path, "': ", std::strerror(e));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DIFFLAB_CHECK(in.good(), "cannot open '", path, "': ", std::strerror(errno));
  std::ostringstream os;
  os << in.rdbuf();
  DIFFLAB_CHECK(!in.bad(), "error reading '", path, "'");
  return os.str();
}

bool file_exists(const std::string& path) { return fs::exists(path); }

}  // namespace difflab::experiments
