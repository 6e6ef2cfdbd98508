"The offline docs site: built from the notebooks' stored outputs (no execution), then checked by tools/check_docs.py"
import base64, os, shutil, sys
from pathlib import Path

import pytest
from fastcore.nbio import mk_cell, new_nb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from build_docs import DocsError, Site, build, load_nb, notebooks, page_path, settings
from check_docs import check

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site built in this process (one import of the library for every test here), from stored outputs"
    out = tmp_path_factory.mktemp('site')/'docs'
    cwd = Path.cwd()
    try: build(out, run=False)
    finally: os.chdir(cwd)
    return out

def test_site_passes_its_check(site):
    problems,pages = check(site)
    assert not problems, '\n'.join(problems)
    assert 'index.html' in pages

def test_every_page_is_in_the_navigation_and_needs_no_network(site):
    cfg = settings()
    index = (site/'index.html').read_text()
    for nb in notebooks(cfg['nbs']): assert f'href="{page_path(nb, cfg["nbs"])}"' in index, nb
    for page in site.rglob('*.html'): assert '//cdn' not in page.read_text() and '<script src="http' not in page.read_text()
    assert (site/'assets'/'site.css').is_file() and (site/'assets'/'pygments.css').is_file()

def test_check_reports_broken_links_images_pages_and_entries(site, tmp_path):
    bad = tmp_path/'docs'
    shutil.copytree(site, bad)
    core = bad/'core.html'
    core.write_text(core.read_text().replace('id="as_size"', 'id="elsewhere"')
                    .replace('</main>', '<a href="nowhere.html">x</a><a href="heatmaps.html#no-such-id">y</a><img src="figures/none.png"></main>'))
    (bad/'transforms.html').unlink()
    problems = '\n'.join(check(bad)[0])
    for msg in ['no show_doc entry for fastlandmarks.core.as_size', "broken link 'nowhere.html'", "no id 'no-such-id' on heatmaps.html",
                "broken image 'figures/none.png'", 'missing page transforms.html']: assert msg in problems, (msg, problems)

def _render(tmp_path, cells):
    "Render a notebook of `cells` saved as nbs/90_demo.ipynb in a scratch project"
    (tmp_path/'nbs').mkdir()
    site = Site(dict(settings(), nbs=tmp_path/'nbs'), tmp_path/'site')
    return site.notebook(tmp_path/'nbs'/'90_demo.ipynb', new_nb(cells))

def _code(src, *outputs):
    c = mk_cell(src, 'code')
    c['outputs'] = list(outputs)
    return c

def test_directives_are_respected_as_nbdev_and_quarto_do(tmp_path):
    png = base64.b64encode((ROOT/'tools'/'docs_templates'/'page.html').read_bytes()[:16]).decode()  # any bytes do
    out = lambda text: dict(output_type='stream', name='stdout', text=text)
    page = _render(tmp_path, [
        mk_cell('# Demo\n> A summary', 'markdown'),
        mk_cell('## First part\nSee `as_size` in [core](00_core.ipynb).', 'markdown'),
        _code('#| hide\nsecret_code()', out('secret output')),
        _code('#| echo: false\nhidden_source()', out('shown output')),
        _code('#| output: false\nshown_source()', out('hidden output')),
        _code('#| include: false\ninvisible()', out('invisible output')),
        _code('visible_line() #| hide_line\nkept_line()'),
        _code('#| code-fold: true\nfolded()'),
        _code('progress()', out('step 1\rstep 2\n')),
        _code('plot()', dict(output_type='display_data', data={'image/png': png, 'text/plain': '<Figure>'},
                             metadata={'image/png': {'width': 300}}))])
    assert (page.title, page.description, page.kind, page.path) == ('Demo', 'A summary', 'tutorial', 'demo.html')
    b = page.body
    for absent in ['secret', 'hidden_source', 'hidden output', 'invisible', 'visible_line', 'step 1', '&lt;Figure&gt;']: assert absent not in b, absent
    for present in ['shown output', 'shown_source', 'kept_line', 'step 2', 'id="first-part"', 'href="core.html"']: assert present in b, present
    assert '<details class="code-fold"><summary>Code</summary>' in b
    assert '<img src="figures/demo-9-0.png" alt="" width="300">' in b and (tmp_path/'site'/'figures'/'demo-9-0.png').is_file()
    assert page.toc==[(2, 'first-part', 'First part')]

def test_exported_definitions_get_show_doc_entries(tmp_path):
    page = _render(tmp_path, [mk_cell('#| default_exp core', 'code'),
                              mk_cell('#| export\ndef as_size(size): ...\ndef _private(): ...', 'code')])
    assert page.module=='fastlandmarks.core' and page.kind=='api'
    b = page.body
    assert 'id="as_size"' in b and '_private' not in b.split('</section>')[0]
    assert '<th>Type</th>' in b and 'An int for a square size' in b  # the docments table of the real function
    assert '<details class="code-fold"><summary>Exported source</summary>' in b
    assert 'default_exp' not in b

def test_explicit_show_doc_cells_are_rendered_like_the_automatic_ones(tmp_path):
    page = _render(tmp_path, [mk_cell('#| default_exp core', 'code'),
                              mk_cell('#| export\nclass Heatmap: ...', 'code'),
                              mk_cell('from nbdev.showdoc import show_doc\nshow_doc(Heatmap.show)', 'code')])
    assert [t[1] for t in page.toc]==['heatmap', 'heatmap.show']  # documented once, where the notebook asks for it
    assert 'from nbdev.showdoc' not in page.body and 'A matplotlib axis to draw on' in page.body

def test_a_half_written_notebook_fails_naming_it(tmp_path):
    bad = tmp_path/'99_bad.ipynb'
    bad.write_text('{"cells": [')
    with pytest.raises(DocsError, match='99_bad.ipynb: cannot read the notebook'): load_nb(bad)
