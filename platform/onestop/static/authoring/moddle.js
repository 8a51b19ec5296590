window.onestopModdleExtensions = window.onestopModdleExtensions || {};
