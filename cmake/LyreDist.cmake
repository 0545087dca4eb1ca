# Data-parallel training across processes:
#   lyre_mpi   -> MPI (the CPU path, and the bootstrap of NCCL), LYRE_HAVE_MPI
#   lyre_nccl  -> NCCL (the CUDA path; needs the CUDA backend and MPI), LYRE_HAVE_NCCL
# AUTO builds each when found; ON makes its absence a configure error (CI uses
# ON so the code cannot rot); OFF leaves it out: `lyre train` then runs as one
# process and says so if launched with several ranks.
set(LYRE_WITH_MPI "AUTO" CACHE STRING "Data-parallel CPU training over MPI: AUTO, ON or OFF")
set(LYRE_WITH_NCCL "AUTO" CACHE STRING "Data-parallel CUDA training over NCCL: AUTO, ON or OFF")
set_property(CACHE LYRE_WITH_MPI PROPERTY STRINGS AUTO ON OFF)
set_property(CACHE LYRE_WITH_NCCL PROPERTY STRINGS AUTO ON OFF)

set(LYRE_HAVE_MPI OFF)
set(LYRE_HAVE_NCCL OFF)
if(NOT LYRE_WITH_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C)
  if(MPI_C_FOUND)
    add_library(lyre_mpi INTERFACE)
    target_link_libraries(lyre_mpi INTERFACE MPI::MPI_C)
    # The C API only: the deprecated C++ bindings would need libmpi_cxx.
    target_compile_definitions(lyre_mpi INTERFACE LYRE_HAVE_MPI=1 OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)
    set(LYRE_HAVE_MPI ON)
  elseif(LYRE_WITH_MPI STREQUAL "ON")
    message(FATAL_ERROR "LYRE_WITH_MPI=ON but no MPI was found (Debian: libopenmpi-dev)")
  endif()
endif()

if(NOT LYRE_WITH_NCCL STREQUAL "OFF")
  set(_lyre_nccl_missing "")
  if(NOT LYRE_HAVE_CUDA)
    set(_lyre_nccl_missing "the CUDA backend")
  elseif(NOT LYRE_HAVE_MPI)
    set(_lyre_nccl_missing "MPI (NCCL's ranks find each other through it)")
  else()
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{NCCL_ROOT}/include)
    find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib
                 $ENV{NCCL_ROOT}/lib $ENV{NCCL_ROOT}/lib64)
    if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
      set(_lyre_nccl_missing "NCCL (nccl.h / libnccl)")
    endif()
  endif()
  if(_lyre_nccl_missing)
    if(LYRE_WITH_NCCL STREQUAL "ON")
      message(FATAL_ERROR "LYRE_WITH_NCCL=ON but ${_lyre_nccl_missing} was not found")
    endif()
  else()
    add_library(lyre_nccl INTERFACE)
    target_include_directories(lyre_nccl SYSTEM INTERFACE ${NCCL_INCLUDE_DIR})
    target_link_libraries(lyre_nccl INTERFACE ${NCCL_LIBRARY})
    target_compile_definitions(lyre_nccl INTERFACE LYRE_HAVE_NCCL=1)
    set(LYRE_HAVE_NCCL ON)
  endif()
endif()
