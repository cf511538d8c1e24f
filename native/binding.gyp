{
  "targets": [
    {
      "target_name": "rwkvx",
      "sources": [
        "<!@(node -e \"const fs=require('fs');for(const d of ['addon','src'])for(const f of fs.readdirSync(d).sort())if(/\\.(cc|cpp)$/.test(f))console.log(d+'/'+f)\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "include"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-Wno-unused-parameter"],
      "cflags": ["-O3"],
      "ldflags": ["-pthread"]
    }
  ]
}
