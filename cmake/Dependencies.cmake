# Every dependency comes from Debian's packages (scripts/setup.sh installs them).
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs videoio video optflow objdetect)
find_package(dlib REQUIRED)
find_package(Torch REQUIRED)
find_package(Threads REQUIRED)
# Vendor .xlsx annotation tables are zips of XML parts (meta/xlsx.cpp). libzip comes through pkg-config:
# Debian's libzip CMake config also imports the zipcmp/zipmerge/ziptool programs and fails unless those
# three tool packages are installed. pugixml's CMake config works as shipped.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
find_package(pugixml REQUIRED)
if(MER_BUILD_TOOLS)
  find_package(CLI11 REQUIRED)
endif()
if(MER_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
