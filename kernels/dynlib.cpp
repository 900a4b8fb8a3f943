#include "kernels/dynlib.h"

#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

namespace v3sim::kernels {

namespace {

std::vector<std::string> candidate_paths(const std::string& soname) {
  std::vector<std::string> out;
  if (const char* env = std::getenv("V3SIM_CUDA_LIB_PATH")) {
    std::string dirs = env;
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = dirs.find(':', start);
      const std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!dir.empty()) out.push_back(dir + "/" + soname);
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  out.push_back(soname);  // the loader's own search
  out.push_back("/usr/local/cuda/lib64/" + soname);
  out.push_back("/usr/local/cuda/targets/x86_64-linux/lib/" + soname);
  return out;
}

SharedLibrary open_library(const std::string& soname) {
  SharedLibrary lib;
  std::string tried;
  for (const std::string& path : candidate_paths(soname)) {
    dlerror();
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h != nullptr) {
      lib.handle = h;
      lib.path = path;
      return lib;
    }
    const char* e = dlerror();
    tried += "\n  " + path + ": " + (e != nullptr ? e : "not found");
  }
  lib.error = soname + " could not be loaded (set V3SIM_CUDA_LIB_PATH to its directory); tried:" + tried;
  return lib;
}

}  // namespace

const SharedLibrary& shared_library(const std::string& soname) {
  static std::mutex mutex;
  static std::map<std::string, SharedLibrary> libraries;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = libraries.find(soname);
  if (it == libraries.end()) it = libraries.emplace(soname, open_library(soname)).first;
  return it->second;
}

void* library_symbol(const SharedLibrary& lib, const char* symbol, std::string* error) {
  if (!lib.loaded()) {
    if (error != nullptr) *error = lib.error;
    return nullptr;
  }
  dlerror();
  void* p = dlsym(lib.handle, symbol);
  if (p == nullptr && error != nullptr) {
    const char* e = dlerror();
    *error = std::string(symbol) + " not found in " + lib.path + ": " + (e != nullptr ? e : "null symbol");
  }
  return p;
}

}  // namespace v3sim::kernels
