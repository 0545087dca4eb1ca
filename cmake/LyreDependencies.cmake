# Host dependencies, all from Debian packages (see .ci/deps.sh). Each is found
# through CMake's own config files, so a prefix on CMAKE_PREFIX_PATH (for example
# .deb files unpacked with dpkg -x on a machine without apt) works as well.
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)

# xxHash ships only a pkg-config file on Debian.
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
find_library(XXHASH_LIBRARY NAMES xxhash REQUIRED)
add_library(lyre_xxhash INTERFACE)
target_include_directories(lyre_xxhash SYSTEM INTERFACE ${XXHASH_INCLUDE_DIR})
target_link_libraries(lyre_xxhash INTERFACE ${XXHASH_LIBRARY})

# Boost.CRC for the CRC-32C that frames TensorBoard's event records: one
# header-only library, so the header is all we look for (no Boost components).
find_path(BOOST_CRC_INCLUDE_DIR boost/crc.hpp REQUIRED)
add_library(lyre_boost_crc INTERFACE)
target_include_directories(lyre_boost_crc SYSTEM INTERFACE ${BOOST_CRC_INCLUDE_DIR})

# A real BLAS for the CPU reference backend: OpenBLAS (its OpenMP flavour, so it
# shares one thread pool with our own OpenMP loops).
find_package(OpenBLAS CONFIG QUIET)
add_library(lyre_blas INTERFACE)
if(OpenBLAS_FOUND)
  target_include_directories(lyre_blas SYSTEM INTERFACE ${OpenBLAS_INCLUDE_DIRS})
  target_link_libraries(lyre_blas INTERFACE ${OpenBLAS_LIBRARIES})
else()
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
  find_path(CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-openmp REQUIRED)
  target_include_directories(lyre_blas SYSTEM INTERFACE ${CBLAS_INCLUDE_DIR})
  target_link_libraries(lyre_blas INTERFACE BLAS::BLAS)
endif()

if(LYRE_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(LYRE_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
