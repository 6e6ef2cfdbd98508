#!/usr/bin/env python
"Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto): markdown cells as they are, code cells fenced."
import json, re, sys
from pathlib import Path

def readme(nb_path='nbs/index.ipynb'):
    cells = json.loads(Path(nb_path).read_text())['cells']
    out = []
    for c in cells:
        src = ''.join(c['source']).strip()
        if not src or re.match(r'#\|\s*(hide|export)', src): continue
        out.append(src if c['cell_type']=='markdown' else f"```python\n{src}\n```")
    return '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    text = readme()
    if '--check' in sys.argv:
        if Path('README.md').read_text() != text: sys.exit("README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py`")
    else: Path('README.md').write_text(text)
