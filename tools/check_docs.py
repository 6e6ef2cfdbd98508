#!/usr/bin/env python
"""Check a site built by build_docs.py: every expected page exists, every internal link and image resolves, and every
name in a module's `__all__` appears on that module's page (functions and classes as `show_doc` entries).
Exits non-zero listing every problem.

    python tools/check_docs.py [--site docs]
"""
from __future__ import annotations
import argparse, importlib, inspect, posixpath, re, sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from build_docs import ROOT, DocsError, default_exp, load_nb, notebooks, page_path, settings

class PageRefs(HTMLParser):
    "The ids, links (`href`/`src` with their tag) and text of one HTML page"
    def __init__(self, html:str):
        super().__init__()
        self.ids,self.refs,self.text = set(),[],[]
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        self.refs += [(tag, a[k]) for k in ('href', 'src') if a.get(k)]

    def handle_data(self, data): self.text.append(data)

def broken_refs(site:Path, pages:dict)->list[str]:
    "Internal links, images and stylesheets whose file, or whose `#id` on that page, does not exist"
    res = []
    for name,pg in pages.items():
        for tag,ref in pg.refs:
            u = urlsplit(ref)
            if u.scheme or u.netloc: continue  # external, mailto: or data: URI
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), unquote(u.path))) if u.path else name
            what = {'img': 'image', 'link': 'stylesheet', 'script': 'script'}.get(tag, 'link')
            if not (site/target).is_file(): res.append(f'{name}: broken {what} {ref!r}')
            elif u.fragment and target in pages and u.fragment not in pages[target].ids:
                res.append(f'{name}: link {ref!r} points to no id {u.fragment!r} on {target}')
    return res

def needs_entry(obj, name:str, module)->bool:
    "True for functions, classes and dispatch functions that `module` defines under `name`: they get a `show_doc` entry"
    if hasattr(obj, 'methods') and not inspect.isclass(obj):  # a plum dispatch function shared with fastai
        return any(m.implementation.__module__==module.__name__ for m in obj.methods)
    return (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__==module.__name__ and obj.__name__==name

def missing_symbols(cfg:dict, nb:Path, page:PageRefs)->list[str]:
    "Names in the module's `__all__` that its page neither documents nor mentions"
    modname = f"{cfg['lib']}.{default_exp(load_nb(nb))}"
    try: module = importlib.import_module(modname)
    except Exception as e: return [f'{nb.name}: cannot import {modname} ({type(e).__name__}: {e}); run nbdev-export']
    if not hasattr(module, '__all__'): return [f'{modname} has no __all__; run nbdev-export']
    text,pg = ''.join(page.text), page_path(nb, cfg['nbs'])
    res = []
    for n in module.__all__:
        if needs_entry(getattr(module, n, None), n, module):
            if n.lower() not in page.ids: res.append(f'{pg}: no show_doc entry for {modname}.{n}')
        elif not re.search(rf'\b{re.escape(n)}\b', text): res.append(f'{pg}: {modname}.{n} does not appear on the page')
    return res

def check(site:Path)->tuple[list[str], dict]:
    "Every problem with the site at `site`, and its parsed pages"
    cfg = settings()
    if not (site/'index.html').is_file(): return [f'no site at {site} (no index.html); build it with tools/build_docs.py'], {}
    nbs = notebooks(cfg['nbs'])
    pages = {p.relative_to(site).as_posix(): PageRefs(p.read_text()) for p in site.rglob('*.html') if '_screens' not in p.parts}
    expected = {page_path(nb, cfg['nbs']): nb for nb in nbs}
    res = [f'missing page {pg} (from {nb.relative_to(ROOT)})' for pg,nb in expected.items() if pg not in pages]
    res += broken_refs(site, pages)
    for pg,nb in expected.items():
        if pg in pages and default_exp(load_nb(nb)): res += missing_symbols(cfg, nb, pages[pg])
    return res, pages

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--site', type=Path, default=ROOT/'docs', help='the built site (default: docs/)')
    args = ap.parse_args(argv)
    try: problems,pages = check(args.site.resolve())
    except DocsError as e: sys.exit(f'check_docs: {e}')
    if problems: sys.exit(f'check_docs: {len(problems)} problem(s) in {args.site}:\n  ' + '\n  '.join(problems))
    print(f'check_docs: {args.site} OK: {len(pages)} pages, {sum(len(p.refs) for p in pages.values())} links and images resolve, '
          'every exported name is on its page')

if __name__=='__main__': main()
