#!/usr/bin/env python
"""Build the offline documentation site from the notebooks in `nbs/`, without Quarto.

`nbdev-docs` builds the public site wherever Quarto is installed (see .github/workflows/deploy.yaml). This renders the
same content as plain static HTML that loads nothing from the network: nbdev front matter (`# Title` + `> summary`),
nbdev/Quarto cell directives, a `show_doc` entry (signature, docstring, docments table) after every exported
definition, and the notebooks' outputs, executed here on the CPU unless `--no-exec` is given.

    python tools/build_docs.py [--out docs] [--no-exec] [--workers 2]
"""
from __future__ import annotations
import argparse, ast, base64, html, importlib, inspect, json, os, posixpath, re, shutil, subprocess, sys, tempfile, tomllib, warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from fastcore.docments import docments, docstring
from fastcore.nbio import dict2nb, md_frontmatter, cell_frontmatter, nb_frontmatter, nb2str, read_nb
from markdown_it import MarkdownIt
from nbdev.config import nbpath2html
from nbdev.processors import clean_magics, filter_stream_, hide_line
from nbdev.showdoc import showdoc_nm
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ROOT = Path(__file__).resolve().parents[1]
STATIC = 'assets'  # folder in the site for its CSS
MARKER = '.built-by-build_docs'  # marks an output folder this script may wipe

class DocsError(Exception): "A notebook or module the site cannot be built from; the message names it"

# ---------------------------------------------------------------- project and notebooks

def settings(root:Path=ROOT)->dict:
    "Site title and description, library name and notebook folder, from pyproject.toml"
    cfg = tomllib.loads((root/'pyproject.toml').read_text())
    nbd,proj = cfg['tool']['nbdev'], cfg['project']
    return dict(title=nbd.get('title', proj['name']), description=proj.get('description', ''),
                lib=Path(nbd.get('lib_path', proj['name'])).name, nbs=root/nbd.get('nbs_path', 'nbs'))

def notebooks(nbs:Path)->list[Path]:
    "The notebooks nbdev renders: every `.ipynb` under `nbs`, skipping files and folders whose name starts with `_` or `.`"
    return sorted(p for p in nbs.rglob('*.ipynb') if not any(s[0] in '_.' for s in p.relative_to(nbs).parts))

def page_path(nb:Path, nbs:Path)->str:
    "The site page of a notebook, named as nbdev names it (`nbs/00_core.ipynb` -> `core.html`)"
    return nbpath2html(nb.relative_to(nbs)).as_posix()

def default_exp(nb)->str|None:
    "The module a notebook exports to (`#| default_exp`), None for tutorials and the index"
    return next((c.directives['default_exp'] for c in nb.cells if c.cell_type=='code' and 'default_exp' in c.directives), None)

def load_nb(path:Path):
    "Read a notebook, or fail naming it (a notebook being saved by someone else can be half written)"
    try: return read_nb(path)
    except Exception as e: raise DocsError(f'{path}: cannot read the notebook ({type(e).__name__}: {e}); '
                                           'if it is being edited, build again once it is saved') from e

def _skip_exec(cell)->bool: return cell.cell_type!='code' or cell.directives.get('eval', '').lower()=='false'

def execute(path:str)->str:
    "Run the notebook at `path` in a fresh shell from its folder, as `nbdev-test` does; the notebook with outputs, as JSON"
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    nb = load_nb(Path(path))
    if str(nb_frontmatter(nb).get('skip_exec', '')).lower() in ('true', '1'): return nb2str(nb)
    for cat in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):  # other libraries' deprecation notices
        warnings.filterwarnings('ignore', category=cat, module=rf"(?!{settings()['lib']})")  # are not documentation
    shell = CaptureShell(path)
    with working_directory(Path(path).parent):
        try: shell.run_all(nb, exc_stop=True, preproc=_skip_exec)
        except Exception as e: raise DocsError(shell.prettytb(fname=path) or f'{path}: {type(e).__name__}: {e}') from None
    return nb2str(nb)

def execute_all(paths:list[Path], workers:int)->dict:
    "Execute notebooks `workers` at a time, each by this script in a process of its own; fails listing every notebook that raised"
    def run(p:Path):  # the executed notebook, or the error message
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([sys.executable, __file__, '--execute', str(p), '--out', f'{d}/nb.json'], capture_output=True, text=True)
            print(f"{'executed' if r.returncode==0 else 'FAILED'} {p.name}", flush=True)
            if r.returncode==0: return dict2nb(json.loads(Path(f'{d}/nb.json').read_text()))
            return r.stderr[i:] if (i := r.stderr.rfind('build_docs: '))>=0 else r.stderr[-3000:]
    with ThreadPoolExecutor(workers) as ex: res = dict(zip(paths, ex.map(run, paths)))
    if errs := [f'{p.name}: {r}' for p,r in res.items() if isinstance(r, str)]:
        raise DocsError('executing notebooks failed:\n' + '\n'.join(errs))
    return res

# ---------------------------------------------------------------- pages

def slugify(text:str)->str:
    "A heading id as pandoc (and so Quarto) makes it: lower case, punctuation dropped, spaces to hyphens"
    s = re.sub(r'\s+', '-', re.sub(r'[^\w\s.-]', '', text.lower()).strip())
    return re.sub(r'^[^a-z]+', '', s) or 'section'

@dataclass
class Page:
    path: str                  # site-relative, e.g. `core.html`
    title: str
    description: str = ''
    kind: str = 'tutorial'     # 'home', 'api' or 'tutorial'
    src: Path|None = None      # the notebook (or README) it comes from
    module: str|None = None    # `lib.module` for API pages
    body: str = ''
    toc: list = field(default_factory=list)  # (level, id, text) of its h2/h3 headings and doc entries
    ids: set = field(default_factory=set)

    def new_id(self, text:str, exact=False)->str:
        "A fresh id for this page: `text` itself if `exact`, else its slug; `-1`, `-2`... on repeats"
        base = text if exact else slugify(text)
        hid,i = base,0
        while hid in self.ids: i += 1; hid = f'{base}-{i}'
        self.ids.add(hid)
        return hid

    def rel(self, target:str)->str:
        "`target` (site-relative) as a link from this page"
        return posixpath.relpath(target, posixpath.dirname(self.path) or '.')

def _heading_ids(state):
    "markdown-it core rule: give headings pandoc-style ids and list h2/h3 in the page's table of contents"
    page = state.env['page']
    for tok,inline in zip(state.tokens, state.tokens[1:]):
        if tok.type!='heading_open': continue
        hid = page.new_id(inline.content)
        tok.attrSet('id', hid)
        if tok.tag in ('h2','h3'): page.toc.append((int(tok.tag[1]), hid, re.sub(r'[`*]', '', inline.content)))

def _text(x)->str: return ''.join(x) if isinstance(x, list) else (x or '')
def _ansi(s:str)->str: return re.sub(r'\x1b\[[0-9;?]*[A-Za-z]', '', s)
def _terminal(s:str)->str:
    "Stream text as a terminal leaves it: ANSI codes dropped, each line only what follows its last carriage return"
    return '\n'.join(l.rsplit('\r', 1)[-1] for l in _ansi(s).split('\n'))
def _pre(s:str, cls:str)->str: return f'<pre class="{cls}">{html.escape(s)}</pre>'
def _details(inner:str, summary:str, open_:bool)->str:
    return f'<details class="code-fold"{" open" if open_ else ""}><summary>{summary}</summary>{inner}</details>'

# Quarto fenced divs (`::: {.callout-note}` ... `:::`) become plain divs with those classes
_re_fence_open = re.compile(r'^:::+\s*\{([^}]*)\}\s*$', re.M)
_re_fence_close = re.compile(r'^:::+\s*$', re.M)
def _fenced_divs(md:str)->str:
    md = _re_fence_open.sub(lambda m: f'\n<div class="{" ".join(c.lstrip(".") for c in m[1].split() if c.startswith("."))}">\n', md)
    return _re_fence_close.sub('\n</div>\n', md)

# ---------------------------------------------------------------- show_doc

def _anno(a)->str:
    "An annotation as written (strings, with `from __future__ import annotations`) or else without module prefixes"
    return a if isinstance(a, str) else re.sub(r'\b(?:\w+\.)+(\w+)', r'\1', inspect.formatannotation(a))
def _default(v)->str:
    r = v.__name__ if callable(v) and hasattr(v, '__name__') else repr(v)
    return r if len(r)<60 else r[:57]+'...'

def _params(sig:inspect.Signature)->list:
    "Parameters as shown in docs: a leading `self`/`cls` left out"
    ps = list(sig.parameters.values())
    return ps[1:] if ps and ps[0].name in ('self','cls') else ps

def _param_str(p:inspect.Parameter)->str:
    s = {p.VAR_POSITIONAL:'*', p.VAR_KEYWORD:'**'}.get(p.kind, '') + p.name
    if p.annotation is not p.empty: s += ':'+_anno(p.annotation)
    return s + ('' if p.default is p.empty else '='+_default(p.default))

def _signature(f)->inspect.Signature|None:
    try: return inspect.signature(f)
    except (TypeError, ValueError): return None

def _implementations(sym, module:str|None)->list:
    "What to document for `sym`: the functions `module` registers if `sym` is a plum dispatch function, else `sym`"
    if inspect.isclass(sym) or not hasattr(sym, 'methods'): return [sym]
    return list(dict.fromkeys(m.implementation for m in sym.methods if m.implementation.__module__==module)) or [sym]

class Site:
    "Renders notebooks into pages of one site, then writes them with navigation and cross-links"
    def __init__(self, cfg:dict, out:Path):
        self.cfg,self.out,self.pages,self.symbols = cfg,out,[],{}
        self.fmt = HtmlFormatter(nowrap=True)
        self.md = MarkdownIt('commonmark', {'html': True, 'highlight': self.code}).enable(['table', 'strikethrough'])
        self.md.core.ruler.push('heading_ids', _heading_ids)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent/'docs_templates'), autoescape=True)

    def code(self, src:str, lang:str='python', attrs=None)->str:
        "Source highlighted with pygments, as a `<pre>` (which markdown-it then leaves unwrapped)"
        try: lexer = get_lexer_by_name(lang or 'text')
        except ClassNotFound: lexer = get_lexer_by_name('text')
        return f'<pre class="highlight">{highlight(src, lexer, self.fmt)}</pre>'

    def markdown(self, page:Page, src:str, inline=False)->str:
        return self.md.renderInline(src, {'page': page}) if inline else self.md.render(_fenced_divs(src), {'page': page})

    def figure(self, page:Page, name:str, data:bytes)->str:
        "Write an image under `figures/`; its link from `page`"
        path = f"figures/{page.path.removesuffix('.html').replace('/', '-')}-{name}"
        (self.out/path).parent.mkdir(parents=True, exist_ok=True)
        (self.out/path).write_bytes(data)
        return page.rel(path)

    # -- show_doc
    def doc_entry(self, page:Page, sym, name:str, level:int=3)->str:
        "nbdev's `show_doc` for `sym`: heading, signature, docstring and a table of its docments"
        hid = page.new_id(name.lower(), exact=True)
        self.symbols.setdefault(name, f'{page.path}#{hid}')
        page.toc.append((3, hid, name))
        if isinstance(sym, property): sym = sym.fget
        kind = 'class' if inspect.isclass(sym) else 'method' if '.' in name else 'function'
        body = ''.join(self.doc_body(name, f, kind) for f in _implementations(sym, page.module))
        return (f'<section class="doc"><h{level} class="doc-name" id="{hid}"><a href="#{hid}">{html.escape(name)}</a>'
                f'<span class="kind">{kind}</span></h{level}>{body}</section>')

    def doc_body(self, name:str, f, kind:str)->str:
        sig = _signature(f)
        res = ''
        if sig is not None:
            ps,ret = [_param_str(p) for p in _params(sig)], sig.return_annotation
            head = f"{'class' if kind=='class' else 'def'} {name.split('.')[-1] if kind=='method' else name}"
            tail = '' if ret is sig.empty else '->'+_anno(ret)
            one = f"{head}({', '.join(ps)}){tail}"
            res += self.code(one if len(one)<=90 else head+'(\n'+''.join(f'    {p},\n' for p in ps)+')'+tail)
        if doc := docstring(f): res += f'<div class="docstring">{self.markdown(Page("", ""), doc)}</div>'
        return res + (self.params_table(f, sig) if sig is not None else '')

    def params_table(self, f, sig:inspect.Signature)->str:
        "The docments table: one row per parameter (type, default, details) and one for the return value"
        try: docs = docments(f)
        except Exception: docs = {}
        cell = lambda s: f'<code>{html.escape(s)}</code>' if s else ''
        rows = [(('*' if p.kind==p.VAR_POSITIONAL else '**' if p.kind==p.VAR_KEYWORD else '')+p.name,
                 '' if p.annotation is p.empty else _anno(p.annotation),
                 '' if p.default is p.empty else _default(p.default), docs.get(p.name) or '') for p in _params(sig)]
        ret = ('' if sig.return_annotation is sig.empty else _anno(sig.return_annotation), docs.get('return') or '')
        if not any(r[1] or r[3] for r in rows) and not any(ret): return ''
        dflt = any(r[2] for r in rows)  # a Default column only where some parameter has a default, as nbdev does
        td = lambda *xs: ''.join(f'<td>{x}</td>' for x in xs)
        trs = ''.join(f'<tr>{td(cell(n), cell(t), *[cell(d)]*dflt, self.markdown(None, x, inline=True))}</tr>' for n,t,d,x in rows)
        if any(ret): trs += f'<tr class="returns">{td("Returns", cell(ret[0]), *[""]*dflt, self.markdown(None, ret[1], inline=True))}</tr>'
        head = ''.join(f'<th>{h}</th>' for h in ['', 'Type', *['Default']*dflt, 'Details'])
        return f'<table class="params"><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>'

    def resolve(self, page:Page, name:str, ns:dict):
        try: return eval(name, ns)
        except Exception as e:
            raise DocsError(f'{page.src}: `{name}` is defined in an exported cell but {page.module or "the notebook"} has no '
                            f'`{name}` ({type(e).__name__}: {e}); run nbdev-export') from None

    def explicit_show_doc(self, page:Page, src:str, ns:dict)->str:
        "Run a notebook's own `show_doc(...)` cell against the module, as nbdev does when it renders docs"
        out = []
        def show_doc(sym, renderer=None, name=None, title_level=3):
            out.append(self.doc_entry(page, sym, name or getattr(sym, '__qualname__', str(sym)), title_level))
        tree = ast.parse(src)
        for t in tree.body:  # the cell may import nbdev's show_doc itself: call ours under a name no cell uses
            if _is_show_doc(t): t.value.func = ast.copy_location(ast.Name('__site_show_doc__', ast.Load()), t.value.func)
        try: exec(compile(tree, str(page.src), 'exec'), {**ns, '__site_show_doc__': show_doc})
        except Exception as e: raise DocsError(f'{page.src}: show_doc cell failed ({type(e).__name__}: {e}):\n{src}') from None
        return ''.join(out)

    # -- cells
    def outputs(self, page:Page, cell, asis:bool)->str:
        res = []
        for k,o in enumerate(cell.get('outputs', [])):
            if o.output_type=='stream':
                if (s := _terminal(_text(o.text))).strip(): res.append(_pre(s.rstrip('\n'), f'output stream {o.name}'))
            elif o.output_type=='error': res.append(_pre(_ansi('\n'.join(o.traceback)), 'output error'))
            else: res.append(self.rich_output(page, o, f'{cell.idx_}-{k}', asis))
        return ''.join(res)

    def rich_output(self, page:Page, o, name:str, asis:bool)->str:
        "The richest form of an execute_result/display_data output that a static page can show"
        data,meta = o.get('data', {}), o.get('metadata', {})
        if 'text/markdown' in data and asis: return self.markdown(page, _text(data['text/markdown']))
        if 'text/html' in data: return f'<div class="output html">{_text(data["text/html"])}</div>'
        if 'image/svg+xml' in data: return f'<div class="output image">{_text(data["image/svg+xml"])}</div>'
        for mime,ext in (('image/png','png'), ('image/jpeg','jpg'), ('image/gif','gif')):
            if mime in data:
                src = self.figure(page, f'{name}.{ext}', base64.b64decode(_text(data[mime])))
                w = (meta.get(mime) or {}).get('width')  # retina figures are shown at half their pixel size
                return f'<div class="output image"><img src="{src}" alt=""' + (f' width="{w}"' if w else '') + '></div>'
        if 'text/markdown' in data: return f'<div class="output markdown">{self.markdown(page, _text(data["text/markdown"]))}</div>'
        if 'text/plain' in data: return _pre(_ansi(_text(data['text/plain'])), 'output text')
        return ''

    def local_refs(self, page:Page, body:str, attachments:dict)->str:
        "Links to notebooks point at their pages; local images are copied into the site next to the page"
        def fix(m):
            attr,ref,frag = m[1], m[2], m[3] or ''
            if ref.startswith('attachment:'):
                mime,b64 = next(iter(attachments[ref[11:]].items()))
                return f'{attr}="{self.figure(page, "att-"+ref[11:], base64.b64decode(b64))}"'
            if ref.endswith('.ipynb'): return f'{attr}="{nbpath2html(ref).as_posix()}{frag}"'
            if attr=='src' and (src := page.src.parent/ref).is_file():
                dest = (self.out/posixpath.dirname(page.path)/ref).resolve()
                if not dest.is_relative_to(self.out.resolve()):
                    raise DocsError(f'{page.src}: image {ref} lies outside the notebooks folder; move it under it')
                dest.parent.mkdir(parents=True, exist_ok=True); shutil.copyfile(src, dest)
            return m[0]
        return re.sub(r'\b(src|href)="((?!\w+://|/|#|mailto:|data:)[^"#]+)(#[^"]*)?"', fix, body)

    def notebook(self, path:Path, nb)->Page:
        "A page from a notebook, following nbdev's doc processors"
        nbs = self.cfg['nbs']
        fm,mod = nb_frontmatter(nb), default_exp(nb)
        page = Page(page_path(path, nbs), str(fm.get('title', path.stem)), str(fm.get('description', '')), src=path,
                    kind='home' if page_path(path, nbs)=='index.html' else 'api' if mod else 'tutorial',
                    module=f"{self.cfg['lib']}.{mod}" if mod else None)
        ns = self.namespace(page)
        shown = {_shown_name(t) for c in nb.cells if c.cell_type=='code' for t in (c.parsed_() or []) if _is_show_doc(t)}
        fm_cell = next((c for c in nb.cells if c.cell_type=='markdown'), None)
        parts = []
        for i,cell in enumerate(nb.cells):
            cell.idx_ = i
            d = cell.directives
            if cell.cell_type=='raw' or 'hide' in d or d.get('include')=='false': continue
            if cell is fm_cell and (cell_frontmatter(cell.source) or md_frontmatter(cell.source)): continue
            cell.remove_directives()
            if cell.cell_type=='markdown':
                parts.append(self.local_refs(page, self.markdown(page, cell.source), cell.get('attachments', {})))
                continue
            if 'default_exp' in d: continue
            parts.append(self.code_cell(page, cell, d, ns, shown))
        page.body = ''.join(parts)
        return page

    def namespace(self, page:Page)->dict:
        "The names `show_doc` cells and exported definitions are looked up in: the page's module, else the whole library"
        name = page.module or f"{self.cfg['lib']}.all"
        try: return vars(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if page.module: raise DocsError(f'{page.src}: cannot import {name} ({e}); run nbdev-export') from None
            return {}
        except Exception as e: raise DocsError(f'{page.src}: importing {name} failed ({type(e).__name__}: {e})') from None

    def code_cell(self, page:Page, cell, d:dict, ns:dict, shown:set)->str:
        exported = bool({'export','exports','exporti'} & d.keys())
        names = _doc_names(cell, shown) if {'export','exports'} & d.keys() else []
        hide_line(cell); filter_stream_(cell, *d.get('filter_stream', '').split()); clean_magics(cell)
        if re.search(r'^show_doc\b', cell.source, re.M): return self.explicit_show_doc(page, cell.source, ns)  # as nbdev's _is_showdoc
        src = '' if d.get('echo')=='false' or not cell.source.strip() else self.code(cell.source)
        if src and exported: src = _details(src, 'Exported source', 'exports' in d)
        elif src and 'code-fold' in d: src = _details(src, html.escape(d.get('code-summary', 'Code').strip('"')), d['code-fold']=='show')
        outs = '' if d.get('output')=='false' else self.outputs(page, cell, d.get('output')=='asis')
        docs = ''.join(self.doc_entry(page, self.resolve(page, n, ns), n) for n in names)
        return docs + (f'<div class="cell">{src}{outs}</div>' if src or outs else '')  # source folded below its docs

    # -- site
    def write(self):
        "Write every page with the sidebar, cross-links to documented symbols, and the stylesheets"
        (self.out/STATIC).mkdir(parents=True, exist_ok=True)
        (self.out/STATIC/'pygments.css').write_text(self.fmt.get_style_defs('.highlight'))
        shutil.copyfile(Path(__file__).parent/'docs_templates'/'site.css', self.out/STATIC/'site.css')
        groups = [(t, [p for p in self.pages if p.kind==k]) for t,k in (('Tutorials','tutorial'), ('API reference','api'))]
        tpl = self.env.get_template('page.html')
        for page in self.pages:
            out = self.out/page.path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(tpl.render(page=page, site=self.cfg, groups=[g for g in groups if g[1]], body=self.linkify(page),
                                      home=next((p for p in self.pages if p.kind=='home'), None), static=page.rel(STATIC)))

    def linkify(self, page:Page)->str:
        "Inline code naming a documented symbol (`` `as_size` ``) links to its entry, as nbdev's `add_links` does"
        def link(m):
            if not (url := m[1] and self.symbols.get(m[1])): return m[0]  # an existing link, or not a symbol
            target,frag = url.split('#')
            return f'<a class="symbol" href="{page.rel(target)}#{frag}">{m[0]}</a>'
        return re.sub(r'<a\b.*?</a>|<code>([A-Za-z_][\w.]*?)(?:\(\))?</code>', link, page.body, flags=re.S)

def _is_show_doc(t)->bool:
    return isinstance(t, ast.Expr) and isinstance(t.value, ast.Call) and getattr(t.value.func, 'id', None)=='show_doc' and t.value.args

def _shown_name(t)->str: return ast.unparse(t.value.args[0])

def _doc_names(cell, shown:set)->list[str]:
    """Names nbdev's `add_show_docs` documents after an exported cell (public functions and classes, `@patch` methods),
    plus the public methods with a docstring defined in those classes' bodies"""
    names = []
    for t in cell.parsed_() or []:
        if not isinstance(t, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or t.name.startswith('_'): continue
        names.append(showdoc_nm(t))
        if isinstance(t, ast.ClassDef):
            names += [f'{t.name}.{m.name}' for m in t.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and not m.name.startswith('_') and ast.get_docstring(m)]
    return [n for n in names if n not in shown]

# ---------------------------------------------------------------- main

def readme_page(site:Site)->Page:
    "The home page from README.md, for as long as nbs/index.ipynb does not exist"
    page = Page('index.html', site.cfg['title'], site.cfg['description'], kind='home', src=ROOT/'README.md')
    text = re.sub(r'\A#\s+.*\n', '', page.src.read_text())  # its H1 is the page title
    page.body = site.local_refs(page, site.markdown(page, text), {})
    return page

def prepare(out:Path):
    "Empty the output folder, refusing one that this script did not make; `_screens/` is kept"
    if out.exists() and any(out.iterdir()) and not (out/MARKER).exists():
        raise DocsError(f'{out} is not empty and was not written by build_docs.py; not overwriting it')
    out.mkdir(parents=True, exist_ok=True)
    for p in out.iterdir():
        if p.name!='_screens': shutil.rmtree(p) if p.is_dir() else p.unlink()
    (out/MARKER).touch()

def build(out:Path, run:bool=True, workers:int=2)->Site:
    "Build the site into `out`, executing the notebooks first if `run`"
    os.chdir(ROOT)  # nbdev reads its settings from the project's pyproject.toml
    cfg = settings()
    paths = notebooks(cfg['nbs'])
    nbs = execute_all(paths, workers) if run else {p: load_nb(p) for p in paths}
    prepare(out)
    site = Site(cfg, out)
    site.pages = [site.notebook(p, nbs[p]) for p in paths]
    if not any(p.kind=='home' for p in site.pages):
        print(f"warning: {cfg['nbs'].name}/index.ipynb does not exist; index.html is built from README.md", file=sys.stderr)
        site.pages.insert(0, readme_page(site))
    site.write()
    return site

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', type=Path, default=ROOT/'docs', help='folder to write the site into (default: docs/)')
    ap.add_argument('--no-exec', action='store_true', help="use the notebooks' stored outputs instead of executing them")
    ap.add_argument('--workers', type=int, default=2, help='notebooks executed at once')
    ap.add_argument('--execute', type=Path, help='only execute this notebook, writing it with its outputs (JSON) to --out')
    args = ap.parse_args(argv)
    if args.execute:
        try: return args.out.write_text(execute(str(args.execute.resolve())))
        except DocsError as e: sys.exit(f'build_docs: {e}')
    try: site = build(args.out.resolve(), run=not args.no_exec, workers=args.workers)
    except DocsError as e: sys.exit(f'build_docs: {e}')
    print(f'wrote {len(site.pages)} pages to {args.out}')

if __name__=='__main__': main()
