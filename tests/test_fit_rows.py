"""Training on some rows of a dataset without copying it: `fit(rows=...)`, lines too narrow for their text left out
where they lie, and a mix that never reads the lines past each part's `take`."""
import keras, numpy as np, pytest

from hwr.data.mixed import MixedLinesDataset
from hwr.models.line import LineModelCtc

ARGS = {'num_train': 48, 'num_test': 8}
NET = {'conv_filters': [8, 16], 'lstm_dim': 16, 'lstm_layers': 1}


class Batches(keras.callbacks.Callback):
    "Counts the training batches of each epoch."
    def on_epoch_begin(self, epoch, logs=None): self.n = 0
    def on_train_batch_end(self, batch, logs=None): self.n += 1


def _fit(model, **kw):
    seen = Batches()
    model.fit(batch_size=8, epochs=1, callbacks=[seen], verbose=0, **kw)
    return seen.n


def test_fit_on_some_rows(data_root):
    m = LineModelCtc('SyntheticLinesDataset', 'crnn', ARGS, NET)
    m.data.load_or_generate_data()
    assert _fit(m, validation_fraction=0.25) == 36 // 8 + 1         # 48 lines, 12 held out: 36 in 5 batches
    assert _fit(m, validation_fraction=0.25, rows=np.arange(16)) == 2    # 16 rows, 4 held out: 12 in 2 batches
    assert _fit(m, validation_fraction=0, rows=[3, 5, 7]) == 1
    for bad in ([], [48], [-1]):
        with pytest.raises(ValueError, match='rows must be a non-empty list of row numbers below 48'):
            _fit(m, rows=bad)


def test_narrow_lines_left_out_in_place(data_root, capsys):
    m = LineModelCtc('SyntheticLinesDataset', 'crnn', ARGS, NET)
    data = m.data.load_or_generate_data()
    x, w = data.x_train, data.w_train.copy()
    data.w_train[:9] = 16                                             # 16 columns cannot hold these lines' texts
    assert _fit(m, validation_fraction=0) == 39 // 8 + 1              # the other 39 lines
    assert 'leaving out 9 of 48 training lines too narrow' in capsys.readouterr().out
    assert data.x_train is x and len(data.x_train) == 48              # nothing was copied or dropped from the dataset
    assert _fit(m, validation_fraction=0, rows=np.arange(4, 20)) == 2  # asked for 16 rows, of which 5 are too narrow: 11
    assert 'leaving out 5 of 16 training lines' in capsys.readouterr().out
    data.w_train[:] = w


def test_mix_reads_only_taken_lines(data_root):
    mix = MixedLinesDataset([{'dataset': 'SyntheticLinesDataset', 'dataset_args': ARGS, 'take': 10},
                             {'dataset': 'SyntheticLinesDataset', 'dataset_args': {**ARGS, 'seed': 1}, 'repeat': 2}])
    mix.load_or_generate_data()
    first, second = mix.datasets
    assert len(mix.x_train) == 10 + 2 * 48
    assert len(first.x_train) == len(first.y_train) == len(first.w_train) == 10   # only the ten were read from its cache
    np.testing.assert_array_equal(mix.x_train[:10, :, :first.x_train.shape[2]], first.x_train)
    assert len(second.x_train) == 48 and len(mix.x_test) == 8
    assert 'SyntheticLinesDataset (10 lines x 1)' in mix.describe()
