// File helpers for run folders and caches: atomic writes (temporary name, fsync, rename), so an
// interrupted write never leaves a half-written file, and whole-file reads with clear errors.
#pragma once
#include <string>

namespace difflab::experiments {

// Writes `data` to `path` atomically; creates missing parent directories.
void write_file_atomic(const std::string& path, const std::string& data);
// Reads a whole file; throws difflab::Error naming the path when it is missing or unreadable.
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
void make_dirs(const std::string& path);

}  // namespace difflab::experiments
