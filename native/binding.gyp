{
  "variables": {
    "rwkvx_cuda%": "<!(node src/cuda/gyp_build.js detect)"
  },
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
      "ldflags": ["-pthread"],
      "conditions": [
        ["rwkvx_cuda==1", {
          "defines": ["RWKVX_CUDA=1"],
          "include_dirs": ["src"],
          "actions": [{
            "action_name": "rwkvx_cuda_lib",
            "inputs": ["<!@(node src/cuda/gyp_build.js sources)"],
            "outputs": ["<(INTERMEDIATE_DIR)/rwkvx_cuda/librwkvx_cuda.a"],
            "action": ["node", "src/cuda/gyp_build.js", "build", "<(INTERMEDIATE_DIR)/rwkvx_cuda"],
            "message": "nvcc: CUDA backend"
          }],
          "libraries": [
            "<(INTERMEDIATE_DIR)/rwkvx_cuda/librwkvx_cuda.a",
            "<!(node src/cuda/gyp_build.js libdir)/libcudart_static.a",
            "-ldl", "-lrt"
          ]
        }]
      ]
    }
  ]
}
