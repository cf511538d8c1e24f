// Memory-mapped input files and a zip central-directory reader (zip64 too),
// enough for torch.save archives, whose entries are stored uncompressed.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "convert_source.h"
#include "error.h"

namespace rwkvx {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(RWKVX_ERR_IO, "cannot open '%s': %s", path.c_str(), std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(RWKVX_ERR_IO, "'%s' is not a readable regular file", path.c_str());
  }
  m->size_ = static_cast<size_t>(st.st_size);
  if (m->size_ == 0) {
    ::close(fd);
    fail(RWKVX_ERR_FORMAT, "'%s' is empty", path.c_str());
  }
  void* p = mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) fail(RWKVX_ERR_IO, "cannot map '%s': %s", path.c_str(), std::strerror(e));
  m->data_ = static_cast<const uint8_t*>(p);
  return m;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {

template <class T>
T rd(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

constexpr uint32_t kEocd = 0x06054b50;
constexpr uint32_t kEocd64 = 0x06064b50;
constexpr uint32_t kEocd64Loc = 0x07064b50;
constexpr uint32_t kCentral = 0x02014b50;
constexpr uint32_t kLocal = 0x04034b50;

}  // namespace

std::vector<ZipEntry> zip_list(const uint8_t* data, size_t size, const std::string& origin) {
  const char* o = origin.c_str();
  if (size < 22) fail(RWKVX_ERR_FORMAT, "%s: too small to be a zip archive", o);
  // End of central directory: 22 bytes plus a comment of up to 65535 bytes.
  size_t eocd = SIZE_MAX;
  const size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (size_t p = size - 22;; --p) {
    if (rd<uint32_t>(data + p) == kEocd && p + 22 + rd<uint16_t>(data + p + 20) == size) {
      eocd = p;
      break;
    }
    if (p == lowest) break;
  }
  if (eocd == SIZE_MAX) fail(RWKVX_ERR_FORMAT, "%s: no zip end-of-central-directory record (truncated?)", o);
  uint64_t n_entries = rd<uint16_t>(data + eocd + 10);
  uint64_t cd_size = rd<uint32_t>(data + eocd + 12);
  uint64_t cd_off = rd<uint32_t>(data + eocd + 16);
  if (n_entries == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
    // zip64: a locator just before the EOCD points at the zip64 EOCD record.
    if (eocd < 20 || rd<uint32_t>(data + eocd - 20) != kEocd64Loc) fail(RWKVX_ERR_FORMAT, "%s: zip64 locator missing", o);
    const uint64_t rec = rd<uint64_t>(data + eocd - 20 + 8);
    if (rec > size || size - rec < 56 || rd<uint32_t>(data + rec) != kEocd64) fail(RWKVX_ERR_FORMAT, "%s: bad zip64 end record", o);
    n_entries = rd<uint64_t>(data + rec + 32);
    cd_size = rd<uint64_t>(data + rec + 40);
    cd_off = rd<uint64_t>(data + rec + 48);
  }
  if (cd_off > size || cd_size > size - cd_off) fail(RWKVX_ERR_FORMAT, "%s: zip central directory out of range", o);
  if (n_entries > cd_size / 46) fail(RWKVX_ERR_FORMAT, "%s: zip entry count %llu does not fit the central directory", o,
                                     static_cast<unsigned long long>(n_entries));

  std::vector<ZipEntry> out;
  out.reserve(static_cast<size_t>(n_entries));
  uint64_t p = cd_off;
  const uint64_t cd_end = cd_off + cd_size;
  for (uint64_t k = 0; k < n_entries; ++k) {
    if (cd_end - p < 46 || rd<uint32_t>(data + p) != kCentral) fail(RWKVX_ERR_FORMAT, "%s: bad zip central directory entry %llu", o,
                                                                   static_cast<unsigned long long>(k));
    ZipEntry e;
    e.flags = rd<uint16_t>(data + p + 8);
    e.method = rd<uint16_t>(data + p + 10);
    uint64_t csize = rd<uint32_t>(data + p + 20);
    uint64_t usize = rd<uint32_t>(data + p + 24);
    const uint16_t name_len = rd<uint16_t>(data + p + 28);
    const uint16_t extra_len = rd<uint16_t>(data + p + 30);
    const uint16_t comment_len = rd<uint16_t>(data + p + 32);
    uint64_t local = rd<uint32_t>(data + p + 42);
    const uint64_t var = static_cast<uint64_t>(name_len) + extra_len + comment_len;
    if (cd_end - p - 46 < var) fail(RWKVX_ERR_FORMAT, "%s: zip central directory entry %llu runs past its end", o,
                                    static_cast<unsigned long long>(k));
    e.name.assign(reinterpret_cast<const char*>(data + p + 46), name_len);
    // zip64 extra field: the 64-bit values of whichever fields were saturated, in order.
    const uint8_t* x = data + p + 46 + name_len;
    const uint8_t* xend = x + extra_len;
    while (xend - x >= 4) {
      const uint16_t id = rd<uint16_t>(x);
      const uint16_t len = rd<uint16_t>(x + 2);
      if (xend - x - 4 < len) break;
      if (id == 0x0001) {
        const uint8_t* f = x + 4;
        const uint8_t* fend = f + len;
        auto take = [&](uint64_t& v) {
          if (fend - f < 8) fail(RWKVX_ERR_FORMAT, "%s: short zip64 extra field for '%s'", o, e.name.c_str());
          v = rd<uint64_t>(f);
          f += 8;
        };
        if (usize == 0xffffffffu) take(usize);
        if (csize == 0xffffffffu) take(csize);
        if (local == 0xffffffffu) take(local);
      }
      x += 4 + len;
    }
    p += 46 + var;

    if (local > size || size - local < 30 || rd<uint32_t>(data + local) != kLocal) {
      fail(RWKVX_ERR_FORMAT, "%s: zip entry '%s' has a bad local header offset", o, e.name.c_str());
    }
    const uint64_t start = local + 30 + rd<uint16_t>(data + local + 26) + rd<uint16_t>(data + local + 28);
    if (start > size || csize > size - start) {
      fail(RWKVX_ERR_FORMAT, "%s: zip entry '%s' data runs past the end of the file (truncated?)", o, e.name.c_str());
    }
    if (e.method == 0 && csize != usize) fail(RWKVX_ERR_FORMAT, "%s: stored zip entry '%s' has mismatched sizes", o, e.name.c_str());
    e.data_offset = start;
    e.size = e.method == 0 ? usize : csize;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace rwkvx
