// Search from disk: on a file:// page, the search page's fetches of result pages (for their snippets) are
// answered from _static/search-texts.js (written by docs/search_texts.py), since browsers refuse file:// fetches.
(() => {
  const root = new URL(document.documentElement.dataset.content_root || "./", location.href);

  if (location.protocol === "file:") {
    const texts = new Promise((resolve) => {
      if (!location.pathname.endsWith("/search.html")) return resolve({});
      const script = document.createElement("script");
      script.src = new URL("_static/search-texts.js", root).href;
      script.onload = () => resolve(window.BOOK_SEARCH_TEXTS || {});
      script.onerror = () => resolve({});
      document.head.appendChild(script);
    });
    const original = window.fetch.bind(window);
    window.fetch = async (resource, options) => {
      const url = new URL(typeof resource === "string" ? resource : resource.url, location.href);
      if (url.protocol === "file:" && url.href.startsWith(root.href) && url.pathname.endsWith(".html")) {
        const page = decodeURIComponent(url.href.slice(root.href.length)).replace(/\.html$/, "");
        const known = await texts;
        if (page in known) {
          const main = document.createElement("div");
          main.setAttribute("role", "main");
          main.textContent = known[page];
          return new Response(main.outerHTML, { headers: { "Content-Type": "text/html" } });
        }
      }
      return original(resource, options);
    };
  }

})();
