"Contract tests for `fastlandmarks.readers`: fixtures written from each format's description, bad files, round trips, crops"
import json, math, re, tempfile
from pathlib import Path

import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st
from PIL import Image
from fastai.vision.all import DataBlock, ImageBlock, PointBlock, PILImage, Resize, TensorPoint, get_image_files
from fastlandmarks.core import index_to_pixels, pixels_to_index, scaled_to_pixels
from fastlandmarks.readers import *
from fastlandmarks.boxes import *
from fastlandmarks.data import LandmarkBlock

FIX = Path(__file__).parent/'fixtures'
NAN = float('nan')

def same(a, b, eps=1e-3):
    "Equal where both are present, and missing (`NaN`) at the same places"
    a,b = torch.as_tensor(a).float(), torch.as_tensor(b).float()
    assert a.shape==b.shape, (a.shape, b.shape)
    assert torch.equal(a.isnan(), b.isnan())
    assert torch.allclose(a.nan_to_num(), b.nan_to_num(), atol=eps), (a, b)

def pattern(n, x0, dx, y0, dy):
    i = torch.arange(float(n))
    return torch.stack([x0+dx*i, y0+dy*i], 1)

# ---------------------------------------------------------------- fixtures: count, order, convention

def test_pts_fixture():
    pts = read_pts(FIX/'pts/face_001.jpg', n_points=68)           # the image's sibling .pts
    assert isinstance(pts, TensorPoint) and pts.dtype==torch.float32
    same(pts, pattern(68, 100.5, 1, 200.5, 2))                     # 1-based pixel centres: minus 0.5

def test_lapa_fixture():
    same(read_lapa(FIX/'lapa/images/face_001.jpg', n_points=106), pattern(106, 50.5, 0.5, 60.5, 0.25))

def test_wflw_fixture():
    items = wflw_items(FIX/'wflw/list_98pt_rect_attr_test.txt', img_dir='imgs')
    assert [o.path for o in items] == [Path('imgs/51--Dresses/51_Dresses_wearingdress_51_377.jpg'),
                                       Path('imgs/0--Parade/0_Parade_marchingband_1_116.jpg')]
    pts = read_wflw(items[0])
    same(pts, pattern(98, 100.5, 1, 200.5, 3))
    same(pts.box, [95.5, 195.5, 200.5, 500.5])
    assert items[0].meta == dict(pose=1, expression=0, illumination=0, make_up=0, occlusion=1, blur=0)

def test_coco_fixture():
    items = coco_keypoint_items(FIX/'coco/person_keypoints.json', img_dir='val2017', n_points=17)
    assert len(items)==2 and all(o.path==Path('val2017/000000000001.jpg') for o in items)   # the object without keypoints is left out
    expected = pattern(17, 200.5, 1, 10.5, 2)
    expected[[2, 4]] = NAN                                                                   # v=0
    pts = read_coco_keypoints(items[1])
    same(pts, expected)
    same(pts.box, [195., 8., 245., 78.])                                                     # xywh, continuous
    pts = read_coco_keypoints(coco_keypoint_items(FIX/'coco/person_keypoints.json', min_visibility=2)[1])
    expected[7] = NAN                                                                        # v=1 dropped too
    same(pts, expected)

def test_asf_fixture():
    same(read_asf(FIX/'asf/01-1m.asf', n_points=58, img_size=(480, 640)), pattern(58, 100, 4, 120, 3))

def test_csv_fixtures():
    kaggle = keypoints_csv_items(FIX/'csv/kaggle_training.csv', n_points=15)
    same(read_keypoints_csv(kaggle[0]), pattern(15, 21, 1, 40.75, 1))
    present = ~read_keypoints_csv(kaggle[1]).isnan().any(1)
    assert present.nonzero().flatten().tolist() == [0, 1, 10, 14]
    img = PILImage.create(item_image(kaggle[1]))
    assert img.mode=='RGB' and img.size==(8, 8)
    yt = keypoints_csv_items(FIX/'csv/youtube_keypoints.csv', n_points=68)
    assert yt[0].path == FIX/'csv/person_a_01.jpg'
    same(read_keypoints_csv(yt[0]), pattern(68, 10.5, 1, 20.5, 1))

def test_dlib_fixture():
    items = dlib_xml_items(FIX/'dlib/training_with_face_landmarks.xml')
    assert len(items)==3                                                   # the ignored box is left out
    assert items[2].path == FIX/'dlib/faces/2009_004587.jpg'
    i = torch.arange(68)
    pts = read_dlib_xml(items[1])
    expected = torch.stack([150.5+i, 10.5+i//2], 1).float(); expected[60:] = NAN   # parts 60-67 left out
    same(pts, expected)
    same(pts.box, [150., 10., 220., 70.])                                  # left, top, left+width, top+height

# ---------------------------------------------------------------- bad files name the file and the line

def edited(tmp_path, fixture, old, new, name=None):
    text = (FIX/fixture).read_text()
    assert old in text
    fn = tmp_path/(name or Path(fixture).name)
    fn.write_text(text.replace(old, new, 1))
    return fn

@pytest.mark.parametrize('reader,fixture,old,new,message', [
    (read_pts, 'pts/face_001.pts', '103.000 205.000', '103.000', 'face_001.pts, line 6: expected two numbers'),
    (read_pts, 'pts/face_001.pts', 'n_points:  68', 'n_points: 6B', 'face_001.pts, line 2: n_points must be a whole number'),
    (read_pts, 'pts/face_001.pts', '}', '', "face_001.pts: no line '}' closing the points opened on line 3"),
    (read_lapa, 'lapa/landmarks/face_001.txt', '51.00 60.50', '51.00 6O.50', 'face_001.txt, line 4: expected two numbers'),
    (read_lapa, 'lapa/landmarks/face_001.txt', '106', '107', 'face_001.txt: line 1 announces 107 points but 106 follow'),
    (wflw_items, 'wflw/list_98pt_rect_attr_test.txt', '0--Parade', '0 Parade', 'list_98pt_rect_attr_test.txt, line 2: expected 207 fields'),
    (wflw_items, 'wflw/list_98pt_rect_attr_test.txt', '301.000000', '3o1', "list_98pt_rect_attr_test.txt, line 2: '3o1' is not a number"),
    (coco_keypoint_items, 'coco/person_keypoints.json', '"image_id": 2', '"image_id": 7', 'person_keypoints.json, annotation 2 (id 13): image_id 7'),
    (coco_keypoint_items, 'coco/person_keypoints.json', '"images"', '"imgs"', "person_keypoints.json: no 'images' list"),
    (keypoints_csv_items, 'csv/youtube_keypoints.csv', '12.0,22.0,', '12.0,', 'youtube_keypoints.csv, line 2: 136 fields, but the header (line 1) has 137'),
    (dlib_xml_items, 'dlib/training_with_face_landmarks.xml', "name='03'", "name='o3'", "training_with_face_landmarks.xml, line 12: part name 'o3'"),
    (dlib_xml_items, 'dlib/training_with_face_landmarks.xml', '</images>', '</imges>', 'training_with_face_landmarks.xml, line 214: invalid XML'),
])
def test_bad_files_name_file_and_line(tmp_path, reader, fixture, old, new, message):
    fn = edited(tmp_path, fixture, old, new)
    with pytest.raises(ValueError, match=re.escape(message)): reader(fn)

def test_bad_asf_and_counts(tmp_path):
    fn = edited(tmp_path, 'asf/01-1m.asf', '\n58\n', '\n5B\n')
    with pytest.raises(ValueError, match=r'01-1m.asf, line 10: expected the number of points'): read_asf(fn, img_size=10)
    for reader,fn in [(read_pts, FIX/'pts/face_001.pts'), (read_lapa, FIX/'lapa/landmarks/face_001.txt'),
                      (lambda f, n_points: read_asf(f, n_points=n_points, img_size=10), FIX/'asf/01-1m.asf')]:
        with pytest.raises(ValueError, match=rf'{fn.name}: expected 5 points, found \d+'): reader(fn, n_points=5)
    with pytest.raises(ValueError, match=r'kaggle_training.csv, line 1: expected 68 points, found 15'):
        keypoints_csv_items(FIX/'csv/kaggle_training.csv', n_points=68)
    with pytest.raises(ValueError, match=r'annotation 0 \(id 11\): keypoints: expected 68 points, found 17'):
        coco_keypoint_items(FIX/'coco/person_keypoints.json', n_points=68)

# ---------------------------------------------------------------- round trips on random valid files

coord = st.integers(0, 8000).map(lambda v: v/8)     # exact in binary and in 3 decimals

@st.composite
def points(draw, max_k=100, missing=False, min_k=1):
    k = draw(st.integers(min_k, max_k))
    xy = np.array(draw(st.lists(st.tuples(coord, coord), min_size=k, max_size=k)), dtype=np.float32)
    if missing: xy[np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)))] = NAN
    return torch.from_numpy(xy)

def idx(pts, one_based=False): return pixels_to_index(pts, one_based).tolist()
def cell(v): return '' if math.isnan(v) else f'{v:.4f}'

@settings(max_examples=25, deadline=None)
@given(points())
def test_pts_round_trip(pts):
    with tempfile.TemporaryDirectory() as d: same(read_pts(write_pts(Path(d)/'a.pts', pts)), pts)

@settings(max_examples=25, deadline=None)
@given(points(max_k=120))
def test_lapa_round_trip(pts):
    with tempfile.TemporaryDirectory() as d:
        fn = Path(d)/'landmarks'/'a.txt'; fn.parent.mkdir()
        fn.write_text(f'{len(pts)}\n' + ''.join(f'{x:.4f} {y:.4f}\n' for x,y in idx(pts)))
        same(read_lapa(Path(d)/'images'/'a.jpg'), pts)

@settings(max_examples=25, deadline=None)
@given(st.lists(points(min_k=20, max_k=20), min_size=1, max_size=3) | st.lists(points(max_k=1), min_size=1, max_size=1))
def test_wflw_round_trip(faces):
    k = len(faces[0])
    with tempfile.TemporaryDirectory() as d:
        fn = Path(d)/'list.txt'
        fn.write_text(''.join(' '.join(f'{v:.4f}' for xy in idx(p) for v in xy) + ' 1 2 30 40 0 1 0 1 0 1 sub/img_%d.jpg\n' % j
                              for j,p in enumerate(faces)))
        items = wflw_items(fn, n_points=k)
        assert [o.path.name for o in items] == [f'img_{j}.jpg' for j in range(len(faces))]
        for it,p in zip(items, faces): same(read_wflw(it, n_points=k), p); same(it.box, [1.5, 2.5, 30.5, 40.5])

@settings(max_examples=25, deadline=None)
@given(st.lists(points(max_k=30, missing=True), min_size=1, max_size=4))
def test_coco_round_trip(objects):
    anns = [dict(id=j, image_id=1, category_id=1, bbox=[1, 2, 3, 4],
                 keypoints=[v for (x,y),m in zip(idx(p.nan_to_num()), p.isnan().any(1).tolist()) for v in ((0, 0, 0) if m else (x, y, 2))])
            for j,p in enumerate(objects)]
    with tempfile.TemporaryDirectory() as d:
        fn = Path(d)/'kp.json'
        fn.write_text(json.dumps(dict(images=[dict(id=1, file_name='a.jpg')], annotations=anns)))
        kept = [p for p in objects if not p.isnan().all()]
        items = coco_keypoint_items(fn)
        assert len(items)==len(kept)
        for it,p in zip(items, kept): same(read_coco_keypoints(it), p)

@settings(max_examples=25, deadline=None)
@given(points(max_k=60), st.integers(1, 1200), st.integers(1, 1200))
def test_asf_round_trip(pts, h, w):
    rel = pts/torch.tensor([w, h])
    with tempfile.TemporaryDirectory() as d:
        fn = Path(d)/'a.asf'
        fn.write_text(f'# comment\n{len(pts)}\n' + ''.join(f'0 0 {x:.12f} {y:.12f} {i} {i} {i}\n' for i,(x,y) in enumerate(rel.tolist())) + 'a.jpg\n')
        same(read_asf(fn, img_size=(h, w)), pts, eps=1e-2)

@settings(max_examples=25, deadline=None)
@given(st.lists(points(min_k=10, max_k=10, missing=True), min_size=1, max_size=5))
def test_csv_round_trip(rows):
    with tempfile.TemporaryDirectory() as d:
        fn = Path(d)/'kp.csv'
        fn.write_text(',' + ','.join(map(str, range(20))) + '\n' +
                      ''.join(f'img{j}.png,' + ','.join(cell(v) for xy in idx(p) for v in xy) + '\n' for j,p in enumerate(rows)))
        items = keypoints_csv_items(fn, n_points=10)
        assert [o.path.name for o in items] == [f'img{j}.png' for j in range(len(rows))]
        for it,p in zip(items, rows): same(read_keypoints_csv(it), p)

@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.tuples(st.integers(0, 999), st.integers(0, 999))), min_size=68, max_size=68),
                min_size=1, max_size=3))
def test_dlib_round_trip(boxes):
    def part(i, xy): return '' if xy is None else f"<part name='{i:02d}' x='{xy[0]}' y='{xy[1]}'/>\n"
    xml = ("<?xml version='1.0'?>\n<dataset><images><image file='a.jpg'>\n" +
           ''.join(f"<box top='1' left='2' width='3' height='4'>\n" + ''.join(part(i, xy) for i,xy in enumerate(b)) + '</box>\n' for b in boxes) +
           '</image></images></dataset>\n')
    with tempfile.TemporaryDirectory() as d:
        fn = Path(d)/'a.xml'; fn.write_text(xml)
        kept = [b for b in boxes if any(xy is not None for xy in b)]
        items = dlib_xml_items(fn, n_points=68)
        assert len(items)==len(kept)
        for it,b in zip(items, kept):
            same(read_dlib_xml(it), [[v+0.5 for v in xy] if xy else [NAN, NAN] for xy in b])

# ---------------------------------------------------------------- crops

boxes = st.tuples(st.integers(-50, 150), st.integers(-50, 150), st.integers(1, 200), st.integers(1, 200)).map(
    lambda b: torch.tensor([b[0], b[1], b[0]+b[2], b[1]+b[3]], dtype=torch.float32))

@settings(max_examples=50, deadline=None)
@given(points(max_k=20), boxes, st.integers(8, 256), st.integers(8, 256))
def test_crop_round_trip(pts, box, h, w):
    same(crop_to_original(original_to_crop(pts, box, (h, w)), box, (h, w)), pts, eps=1e-2)
    same(crop_to_original(original_to_crop(pts, box), box), pts)

@settings(max_examples=25, deadline=None)
@given(points(max_k=20), boxes)
def test_crop_keeps_points_on_their_pixels(pts, box):
    "A point falls in the same pixel of the scene before and after the crop"
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (1001, 1001, 3), dtype=np.uint8)
    img = PILImage.create(a)
    c = np.array(crop_image(img, box))
    moved = crop_points(TensorPoint(pts), box)
    inside = ((moved >= 0) & (moved < torch.tensor([box[2]-box[0], box[3]-box[1]]))).all(1)
    if not inside.any(): return
    before = a[pts[inside, 1].long(), pts[inside, 0].long()]
    after = c[moved[inside, 1].long(), moved[inside, 0].long()]
    np.testing.assert_array_equal(before, after)

def test_batch_crop_to_original():
    "Predictions on a batch of resized crops map back in one call"
    box = torch.tensor([[0., 0, 100, 100], [50, 20, 90, 60]])
    crop_pts = torch.tensor([[[32., 32.]], [[0., 64.]]])
    same(crop_to_original(crop_pts, box, 64), [[[50., 50.]], [[50., 60.]]])

def scene(d, name, size, pts, mode='RGB'):
    "An image of the given mode, black with white dots at `pts` (pixel indices), and its .pts file"
    a = np.zeros((*size, 3), np.uint8)
    for x,y in pts: a[y-1:y+2, x-1:x+2] = 255
    Image.fromarray(a).convert(mode).save(Path(d)/f'{name}.png')
    write_pts(Path(d)/f'{name}.pts', index_to_pixels(torch.tensor(pts).float()))

@pytest.mark.parametrize('mode,block', [('L', PointBlock), ('RGBA', PointBlock), ('RGB', PointBlock),
                                        ('RGB', LandmarkBlock(flip_idx=[1, 0, 2]))])
def test_datablock_crops_to_landmarks(tmp_path, mode, block):
    "Greyscale and RGBA files load as RGB; after crop and resize every point still lies on its dot, whichever point block scales it"
    scene(tmp_path, 'a', (90, 120), [(30, 20), (60, 25), (45, 50)], mode)
    scene(tmp_path, 'b', (100, 80), [(10, 70), (20, 80), (15, 90)], mode)
    dblock = DataBlock(blocks=(ImageBlock, block), get_items=get_image_files, get_y=read_pts,
                       splitter=lambda o: ([0, 1], [0]), item_tfms=[CropToBox(), Resize(24)])
    xb,yb = dblock.dataloaders(tmp_path, bs=2, shuffle=False).one_batch()
    assert xb.shape == (2, 3, 24, 24)
    px = scaled_to_pixels(yb.as_subclass(torch.Tensor), 24).long()
    for b in range(2): assert (xb[b, :, px[b, :, 1], px[b, :, 0]] > 0.3).all()

def test_items_datablock_uses_item_box(tmp_path):
    fn = tmp_path/'list.txt'
    fn.write_text((FIX/'wflw/list_98pt_rect_attr_test.txt').read_text())
    for it in wflw_items(fn):
        it.path.parent.mkdir(parents=True, exist_ok=True)
        Image.new('L', (700, 1000)).save(it.path)
    dblock = DataBlock(blocks=(ImageBlock, PointBlock), get_items=wflw_items, get_x=item_image, get_y=read_wflw,
                       splitter=lambda o: ([0, 1], [1]), item_tfms=[CropToBox(margin=0, square=False), Resize(32, method='squish')])
    dsets = dblock.datasets(fn)
    img,pts = CropToBox(margin=0, square=False)(dsets.train[1])
    assert img.size == (110, 310)                                  # the WFLW box, 290.5…400.5 × 590.5…900.5, on whole pixels
    same(pts.crop_box, [290., 590., 400., 900.])
    assert dblock.dataloaders(fn, bs=2).one_batch()[1].shape == (2, 98, 2)

def test_inference_crop_with_user_box():
    img = PILImage.create(np.zeros((100, 200, 3), np.uint8))
    tfm = CropToBox(box=(20, 10, 60, 40), margin=0)
    assert tfm(img).size == (40, 40)                               # squared about the box centre
    box = tfm.crop_box()
    same(box, [20., 5., 60., 45.])
    same(crop_to_original(torch.tensor([[16., 16.]]), box, 32), [[40., 25.]])
    assert CropToBox()(img).size == (200, 100)                    # no box, no points: the image is left whole
