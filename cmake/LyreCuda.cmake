# Decides whether the CUDA backend is built and defines the targets it links:
#   lyre_cuda_libs  -> cudart, cuBLAS, cuDNN and the NVTX 3 headers
# Sets LYRE_HAVE_CUDA (ON/OFF).
set(LYRE_HAVE_CUDA OFF)
if(LYRE_WITH_CUDA STREQUAL "OFF")
  return()
endif()

include(CheckLanguage)
check_language(CUDA)
set(_lyre_cuda_missing "")
if(NOT CMAKE_CUDA_COMPILER)
  set(_lyre_cuda_missing "nvcc (the CUDA toolkit)")
else()
  find_package(CUDAToolkit)
  if(NOT CUDAToolkit_FOUND)
    set(_lyre_cuda_missing "the CUDA toolkit libraries")
  else()
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{CUDNN_ROOT}/include)
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} $ENV{CUDNN_ROOT}/lib $ENV{CUDNN_ROOT}/lib64)
    find_path(NVTX3_INCLUDE_DIR nvtx3/nvToolsExt.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
      set(_lyre_cuda_missing "cuDNN (cudnn.h / libcudnn)")
    elseif(NOT NVTX3_INCLUDE_DIR)
      set(_lyre_cuda_missing "the NVTX 3 headers")
    endif()
  endif()
endif()

if(_lyre_cuda_missing)
  if(LYRE_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "LYRE_WITH_CUDA=ON but ${_lyre_cuda_missing} was not found")
  endif()
  message(STATUS "Lyre: building the CPU-only engine (${_lyre_cuda_missing} not found)")
  return()
endif()

# Hopper (sm_90) is the target machine; sm_80 keeps A100 clusters working.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 80 90)
endif()
# The .cu files are C++17 (host code stays C++20): CMake 3.25, the minimum,
# knows no C++20 flag for nvcc and fails the CUDA compiler check with 20.
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
enable_language(CUDA)

add_library(lyre_cuda_libs INTERFACE)
target_include_directories(lyre_cuda_libs SYSTEM INTERFACE ${CUDNN_INCLUDE_DIR} ${NVTX3_INCLUDE_DIR})
target_link_libraries(lyre_cuda_libs INTERFACE CUDA::cudart CUDA::cublas ${CUDNN_LIBRARY})
target_compile_definitions(lyre_cuda_libs INTERFACE LYRE_HAVE_CUDA=1)
set(LYRE_HAVE_CUDA ON)
