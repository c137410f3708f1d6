# ccache halves rebuild times of the Torch layer on 2 cores; used only where installed.
find_program(MER_CCACHE ccache)
if(MER_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${MER_CCACHE})
  # Precompiled headers defeat ccache unless it is told to trust their timestamps.
  set(ENV{CCACHE_SLOPPINESS} "pch_defines,time_macros,include_file_mtime,include_file_ctime")
endif()
